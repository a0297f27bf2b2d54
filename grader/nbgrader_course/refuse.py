"""``nbgrader autograde`` in this course: it refuses, names ``make grade``, and touches nothing.

nbgrader's autograde runs the notebook's visible checks inside the student's own
kernel and scores from their outputs: a submission can patch ``builtins`` or
``torch`` and score full marks. In this course scores come only from ``make grade``
(sandbox + hidden tests in a trusted process), so nbgrader's command and
formgrader's "autograde" button (``NbGraderAPI.autograde``) must not write grades.

Wired in through ``nbgrader_config.py``: ``c.Autograde.exporter_class`` names
``RefuseAutograde``. nbgrader builds its exporter at the start of
``Autograde.start()``, before it removes an old autograded folder, creates a
submission row or copies a file (``converters/base.py``), so refusing there
leaves the gradebook, ``autograded/`` and ``submitted/`` exactly as they were.

This module imports nothing of the kit's grader (no torch), so it loads in any
environment nbgrader's own commands run in.
"""
from __future__ import annotations

from nbconvert.exporters import NotebookExporter

MESSAGE = (
    "This course is graded by the kit, not by `nbgrader autograde`: nbgrader would run the visible checks inside "
    "the student's own kernel, where a submission can fake its score. Grade with `make grade SUBMISSIONS={submitted}` "
    "from the course root ({root}); it writes this course's gradebook (auto scores per grade cell, late penalties, "
    "autograded notebooks for formgrader and generate_feedback) and keeps manual scores. "
    "Nothing was changed by this command."
)


class RefuseAutograde(NotebookExporter):
    """An nbconvert exporter that refuses to be built by nbgrader's Autograde converter."""

    def __init__(self, *args, **kwargs):
        from nbgrader.converters.base import NbGraderException

        parent = kwargs.get("parent")
        coursedir = getattr(parent, "coursedir", None)
        message = MESSAGE.format(submitted=getattr(coursedir, "submitted_directory", "submitted"),
                                 root=getattr(coursedir, "root", "."))
        if parent is not None and getattr(parent, "log", None) is not None:
            parent.log.error(message)
        raise NbGraderException(message)
