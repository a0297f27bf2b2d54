"""The kit's per-unit result (``grader.unit.grade_unit``) written as Gradescope's ``results.json``.

A writer only: every number comes from the unit result; nothing is graded here.
Fields, from Gradescope's specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/, "Output format"):
top level ``score``, ``execution_time`` (seconds), ``output``, ``visibility``,
``stdout_visibility``, ``extra_data``, ``tests``; per test ``score``, ``max_score``,
``status`` ("passed"/"failed", as gradescope/gradescope-utils
``gradescope_utils/autograder_utils/json_test_runner.py`` writes it), ``name``,
``number``, ``output``, ``visibility``. The schema the tests hold it to is
``tests/data/gradescope-results.schema.json``.
"""
from __future__ import annotations

from grader.i18n import N_, _
from grader.results import status_text

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
"""Gradescope's visibility values (same specification page, "Controlling test case visibility")."""

OUTCOME_WORDS = {"passed": N_("passed"), "failed": N_("failed"), "error": N_("error"), "skipped": N_("skipped")}
CELL_STATUS_WORDS = {"error": N_("error"), "timeout": N_("timeout"), "crashed": N_("crashed")}

MAX_OUTPUT_CHARS = 20_000
"""Cap on one ``output`` string: a message longer than this is cut, with a note (Gradescope truncates too)."""


def _cut(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "\n" + _("… (cut: the rest is in your instructor's report)")


def _number(value):
    """Scores as JSON numbers: ints stay ints, everything else a float."""
    return value if isinstance(value, int) and not isinstance(value, bool) else float(value)


def test_entries(tests: list[dict], visibility: str) -> list[dict]:
    """One Gradescope test per hidden test: its title, points, the message written for the student."""
    entries = []
    for number, test in enumerate(tests, 1):
        passed = test.get("outcome") == "passed"
        outcome = test.get("outcome")
        message = test.get("message") or (_("passed") if passed else _(OUTCOME_WORDS.get(outcome, outcome))
                                          if outcome else _("not run"))
        entries.append({"name": test.get("title") or test["name"], "number": str(number),
                        "score": _number(test.get("points", 0)), "max_score": _number(test["max_points"]),
                        "status": "passed" if passed else "failed", "output": _cut(message),
                        "visibility": visibility})
    return entries


def summary(result: dict) -> str:
    """The top-level ``output``: what a student reads first (score, sandbox, why not graded, cells that failed)."""
    lines = [_("{assignment}: {score:g} of {max_score:g} points.", assignment=result['assignment'],
               score=result['score'], max_score=result['max_score'])]
    status = result.get("status", "graded")
    if status != "graded":
        status = status_text(status)
        lines.append(status[:1].upper() + status[1:] + ("" if status.endswith(".") else "."))
    sandbox = result.get("sandbox")
    lines.append(_("Sandbox: {sandbox}.", sandbox=sandbox) if sandbox else
                 _("Sandbox: not started (nothing of your code ran)."))
    for cell in result.get("cells", []):
        if cell.get("status") != "ok":
            lines.append(_("Cell {cell} ({status}): {message}", cell=cell['cell'],
                           status=_(CELL_STATUS_WORDS.get(cell['status'], cell['status'])),
                           message=cell.get('message', '').strip()[:600]))
    for problem in result.get("problems", []):
        lines.append(_("Note: {problem}", problem=problem))
    lines.append(_("Each test below says what it checked and, where points were lost, what was expected."))
    return _cut("\n".join(lines))


def to_gradescope(result: dict, *, visibility: str = "visible", execution_time: float | None = None) -> dict:
    """Gradescope's ``results.json`` for one graded (or not gradable) unit result."""
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility {visibility!r}: use one of {', '.join(VISIBILITIES)}")
    document = {
        "score": _number(result["score"]),
        "output": summary(result),
        "visibility": visibility,
        "stdout_visibility": "hidden",  # the run's log is for the instructor
        "tests": test_entries(result.get("tests", []), visibility),
        "extra_data": {"assignment": result["assignment"], "max_score": result["max_score"],
                       "status": result.get("status", ""), "sandbox": result.get("sandbox", ""),
                       "needs_review": bool(result.get("needs_review")),
                       "review_reasons": list(result.get("review_reasons", []))},
    }
    if execution_time is not None:
        document["execution_time"] = round(float(execution_time), 2)
    return document


def not_graded(assignment: str, reason: str, tests: list[dict], *, visibility: str = "visible",
               execution_time: float | None = None, sandbox: str = "") -> dict:
    """Score 0 with the reason, every hidden test listed at 0: never a missing ``results.json``.

    ``sandbox``: what became of it, when the grading run was stopped (empty: it never started).
    """
    result = {"assignment": assignment, "score": 0, "max_score": sum(t["max_points"] for t in tests),
              "sandbox": sandbox,
              "status": f"not graded: {reason}", "cells": [], "problems": [],
              "tests": [{**t, "points": 0, "outcome": "error", "message": _("not graded: {why}", why=reason)}
                        for t in tests]}
    return to_gradescope(result, visibility=visibility, execution_time=execution_time)
