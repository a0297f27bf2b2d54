"""The kit inside an nbgrader course: grade cells, gradebook, autograded notebooks, late penalties, export.

Modules, one job each:
``exercises`` (each exercise's grade cell and its points, derived from the hidden tests),
``course`` (find and configure the nbgrader course a submissions folder belongs to),
``autograded`` (the notebook formgrader and ``generate_feedback`` read),
``gradebook`` (what the coordinator writes into nbgrader's own gradebook, and the CSV export),
``refuse`` (what ``nbgrader autograde`` does in this course: it refuses and names ``make grade``).

Named ``nbgrader_course``, not ``nbgrader``, so that ``import nbgrader`` still finds nbgrader itself.
"""
