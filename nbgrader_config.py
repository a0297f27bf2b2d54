"""nbgrader's configuration for this course (README: "For TAs on nbgrader").

The checkout is the course root: `nbgrader db ...`, `nbgrader collect`, formgrader,
`generate_feedback`, `release_feedback` and `nbgrader export` all work from here.
Scores come only from `make grade SUBMISSIONS=submitted` (sandbox + hidden tests);
`nbgrader autograde` refuses and names it (see grader/nbgrader_course/refuse.py).
"""
import os
import sys

c = get_config()  # noqa: F821  (injected by nbgrader)

_root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = _root
c.CourseDirectory.course_id = "modern-cnn"             # the exchange's course name; change per course/semester
c.CourseDirectory.source_directory = "solutions"       # instructor notebooks with ### BEGIN SOLUTION
c.CourseDirectory.release_directory = "assignments"    # what students get (committed; `make release`)
c.CourseDirectory.submitted_directory = "submitted"    # `nbgrader collect` writes here; `make grade SUBMISSIONS=submitted`
c.CourseDirectory.autograded_directory = "autograded"  # written by `make grade` for formgrader and generate_feedback
c.CourseDirectory.feedback_directory = "feedback"      # `nbgrader generate_feedback` writes here
# nbgrader's gradebook (roster, due dates, extensions, scores), outside git. nbgrader does not create the folder.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_root, ".nbgrader", "gradebook.db")
os.makedirs(os.path.join(_root, ".nbgrader"), exist_ok=True)
c.CourseDirectory.assignment_id = ""
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Late submissions, applied by `make grade` through nbgrader's own AssignLatePenalties:
# "none" (record lateness, no penalty) or "zero" (a late notebook scores 0), or a plugin class of your own:
#   c.AssignLatePenalties.plugin_class = "my_course.penalties.TenPercentPerDay"   (a LateSubmissionPlugin)
c.LateSubmissionPlugin.penalty_method = "none"

# `nbgrader autograde` and formgrader's autograde button refuse (before touching anything) and name `make grade`.
if _root not in sys.path:
    sys.path.append(_root)  # so that nbgrader finds the refusal even outside the kit's virtual environment
c.Autograde.exporter_class = "grader.nbgrader_course.refuse.RefuseAutograde"
