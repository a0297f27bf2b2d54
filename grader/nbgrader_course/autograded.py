"""The autograded notebook formgrader and ``generate_feedback`` read: the submission with the kit's results.

nbgrader's viewers find each grade by the ``grade_id`` of a cell in
``autograded/<student>/<assignment>/<notebook>.ipynb`` and show that cell's
outputs. The kit writes that file itself (the submitted notebook is only read):
every output the student saved is dropped (it could show anything), locked cells
get the release's source and metadata back (as nbgrader's ``OverwriteCells``
does), and each exercise's grade cell gets one output: its hidden tests, points
and messages. Hidden-test code and reference code never appear in it.
"""
from __future__ import annotations

import secrets
import shutil
import textwrap
from pathlib import Path

import nbformat

from grader.i18n import _
from grader.results import status_text

# What release_feedback and fetch_feedback need beside the notebook (written by nbgrader's exchange).
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def exercise_report(exercise: str, tests: list[dict], status: str) -> str:
    """The text shown under an exercise's grade cell: one line per hidden test, then its message, indented (in the
    run's language: the coordinator's, ``grader.i18n.language``)."""
    earned = sum(t["points"] for t in tests)
    possible = sum(t["max_points"] for t in tests)
    lines = [_("Hidden tests for {exercise}: {earned:g} / {possible:g} points", exercise=exercise, earned=earned,
               possible=possible)]
    if status != "graded":
        lines.append(f"({status_text(status)})")
    for test in tests:
        mark = "✓" if test["outcome"] == "passed" else ("–" if test["outcome"] == "skipped" else "✗")
        lines.append(f"{mark} {test['points']:g}/{test['max_points']:g}  {test.get('title') or test['name']}")
        if test["outcome"] != "passed" and test.get("message"):
            for line in test["message"].splitlines():  # formgrader shows outputs unwrapped: wrap them here
                lines.extend(textwrap.wrap(line, width=110, initial_indent="      ", subsequent_indent="        ",
                                           break_long_words=False, break_on_hyphens=False) or [""])
    return "\n".join(lines) + "\n"


def _read(path: Path | None) -> nbformat.NotebookNode | None:
    if path is None or path.suffix != ".ipynb" or path.is_symlink() or not path.is_file():
        return None
    try:
        return nbformat.read(path, as_version=4)
    except Exception:  # any unreadable notebook: the release stands in for it (the result says why)
        return None


def build(submitted: Path | None, release: Path, result: dict, grade_cells: dict[str, str]) -> nbformat.NotebookNode:
    """The autograded notebook for one result; GRADE_CELLS maps exercise → grade cell grade_id."""
    released = nbformat.read(release, as_version=4)
    nb = _read(submitted) or released
    locked = {_meta(c)["grade_id"]: c for c in released.cells if _meta(c).get("locked") and _meta(c).get("grade_id")}
    by_cell = {cell_id: exercise for exercise, cell_id in grade_cells.items()}
    tests_of: dict[str, list[dict]] = {}
    for test in result["tests"]:
        tests_of.setdefault(test.get("exercise", ""), []).append(test)
    for cell in nb.cells:
        grade_id = _meta(cell).get("grade_id")
        if grade_id in locked:
            cell.source = locked[grade_id].source
            cell.metadata["nbgrader"] = dict(_meta(locked[grade_id]))
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if grade_id in by_cell:
            exercise = by_cell[grade_id]
            text = exercise_report(exercise, tests_of.get(exercise, []), result["status"])
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return nb


def write(destination: Path, nb: nbformat.NotebookNode, submission_folder: Path | None, timestamp_ok: bool) -> None:
    """Write DESTINATION (…/autograded/<student>/<assignment>/<notebook>.ipynb) and the exchange's files beside it.

    ``release_feedback`` opens both files for every notebook and stops the whole
    assignment if one is missing. A missing or unreadable timestamp becomes an
    empty ``timestamp.txt`` (nbgrader reads that as "no timestamp"); a submission
    that did not come through the exchange gets a random secret, so its feedback
    is released under a name no student can guess (hand it over yourself).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(destination)
    for name in EXCHANGE_FILES:
        source = submission_folder / name if submission_folder is not None else None
        target = destination.parent / name
        if name == "timestamp.txt" and not timestamp_ok:
            target.write_text("", encoding="utf-8")
        elif source is not None and source.is_file() and not source.is_symlink():
            shutil.copyfile(source, target)
        elif name == "submission_secret.txt" and not target.is_file():
            target.write_text(secrets.token_hex(16), encoding="utf-8")
