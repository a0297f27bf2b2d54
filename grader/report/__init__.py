"""The class report a TA reads after a deadline: ``grades/summary.html`` and the pages under ``grades/report/``.

``write_report`` is called by ``grader.outputs.write_summary`` at the end of every ``make grade``; it reads
nothing but the results (the gradebook's full result dicts) and never changes a grade.
"""
from grader.report.pages import ReportSummary, write_report

__all__ = ["ReportSummary", "write_report"]
