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

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
"""Gradescope's visibility values (same specification page, "Controlling test case visibility")."""

MAX_OUTPUT_CHARS = 20_000
"""Cap on one ``output`` string: a message longer than this is cut, with a note (Gradescope truncates too)."""


def _cut(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "\n… (cut: the rest is in your instructor's report)"


def _number(value):
    """Scores as JSON numbers: ints stay ints, everything else a float."""
    return value if isinstance(value, int) and not isinstance(value, bool) else float(value)


def test_entries(tests: list[dict], visibility: str) -> list[dict]:
    """One Gradescope test per hidden test: its title, points, the message written for the student."""
    entries = []
    for number, test in enumerate(tests, 1):
        passed = test.get("outcome") == "passed"
        message = test.get("message") or ("passed" if passed else test.get("outcome", "not run"))
        entries.append({"name": test.get("title") or test["name"], "number": str(number),
                        "score": _number(test.get("points", 0)), "max_score": _number(test["max_points"]),
                        "status": "passed" if passed else "failed", "output": _cut(message),
                        "visibility": visibility})
    return entries


def summary(result: dict) -> str:
    """The top-level ``output``: what a student reads first (score, sandbox, why not graded, cells that failed)."""
    lines = [f"{result['assignment']}: {result['score']:g} of {result['max_score']:g} points."]
    status = result.get("status", "graded")
    if status != "graded":
        lines.append(status[:1].upper() + status[1:] + ("" if status.endswith(".") else "."))
    sandbox = result.get("sandbox")
    lines.append(f"Sandbox: {sandbox}." if sandbox else "Sandbox: not started (nothing of your code ran).")
    for cell in result.get("cells", []):
        if cell.get("status") != "ok":
            lines.append(f"Cell {cell['cell']} ({cell['status']}): {cell.get('message', '').strip()[:600]}")
    for problem in result.get("problems", []):
        lines.append(f"Note: {problem}")
    lines.append("Each test below says what it checked and, where points were lost, what was expected.")
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
              "tests": [{**t, "points": 0, "outcome": "error", "message": f"not graded: {reason}"} for t in tests]}
    return to_gradescope(result, visibility=visibility, execution_time=execution_time)
