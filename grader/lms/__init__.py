"""LMS hand-in and hand-out: Canvas and Moodle bulk downloads in, their gradebook files out.

- ``collect``: a bulk-download zip → nbgrader's layout ``SUBMISSIONS/<student>/<assignment>/<assignment>.ipynb``
  (``grader.lms.canvas``, ``grader.lms.moodle``, through ``grader.lms.safezip`` and ``grader.lms.placing``);
- ``export``: the kit's per-unit results (``grades/results/<student>/<assignment>.json``) → the LMS's own
  gradebook-import file (a Canvas gradebook CSV, a Moodle grading worksheet).

Neither download carries a submission time, so the kit applies no late penalty
here: the platform's own late policy applies (README, "Canvas and Moodle").
"""
