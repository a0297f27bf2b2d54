"""nbgrader's configuration for this kit (see ../shared/nbgrader-notes.md)."""
import os

c = get_config()  # noqa: F821  (injected by nbgrader)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"      # instructor notebooks with ### BEGIN SOLUTION
c.CourseDirectory.release_directory = "assignments"   # what students get (committed)
c.CourseDirectory.submitted_directory = "examples/submissions"  # the grader's default input
c.CourseDirectory.autograded_directory = ".nbgrader/autograded"
c.CourseDirectory.feedback_directory = ".nbgrader/feedback"
# nbgrader's own database stays out of the repo; the kit's gradebook is grades/gradebook.db
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, ".nbgrader", "gradebook.db")
c.CourseDirectory.assignment_id = ""
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
