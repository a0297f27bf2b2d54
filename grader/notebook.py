"""Read a submitted notebook (or ``.py``) and decide what of it the grader runs.

This runs in the trusted process: it only parses text, it never executes it.
The rules (docs/notebook-format.md): solution and setup cells run in full,
test cells never, every other cell contributes only its top-level
definitions, and magics or shell escapes are dropped.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.i18n import _
from grader.settings import DEFAULTS



class SubmissionError(Exception):
    """The file cannot be graded at all; the message is shown to the student and the TA."""


@dataclass
class Cell:
    """One code cell as the grader sees it."""

    index: int
    grade_id: str | None
    kind: str  # "solution", "setup", "test" or "other"
    source: str
    locked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.grade_id or f"cell {self.index + 1}"


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def cell_kind(cell) -> str:
    meta = _nbgrader(cell)
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("solution"):
        return "solution"
    if meta.get("grade_id") == "setup":
        return "setup"
    return "other"


def strip_magics(source: str) -> tuple[str, list[str]]:
    """Drop IPython magics and shell escapes; they are never run by the grader.

    Written by hand because IPython's transformers turn ``!ls`` into a
    ``get_ipython().system`` call, which is exactly what must not run.
    """
    kept, notes = [], []
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return "", [_("the cell magic {magic} was not run", magic=lines[0].strip().split()[0])]
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            kept.append(line[: len(line) - len(stripped)] + "pass  # magic removed by the grader")
            notes.append(_("line {number}: `{code}` was not run (magics and shell commands are skipped)",
                           number=number, code=stripped[:40]))
        else:
            kept.append(line)
    return "\n".join(kept), notes


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def definitions_only(source: str) -> tuple[str, list[str]]:
    """Keep the top-level imports, functions, classes and assignments of literal constants of a cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, []  # let the sandbox report the syntax error with its line
    lines = source.splitlines()
    skipped = 0
    for stmt in tree.body:
        keep = isinstance(stmt, _DEFINITIONS) or (
            isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None and _is_literal(stmt.value))
        if not keep:
            skipped += 1
            for number in range(stmt.lineno - 1, stmt.end_lineno):
                lines[number] = ""  # blank, not delete: tracebacks keep the student's line numbers
    if not skipped:
        return source, []
    return "\n".join(lines), [_("{skipped} statement(s) outside definitions were not run (only solution cells run "
                                 "in full)", skipped=skipped)]


def runnable_source(cell: Cell) -> str:
    """The part of a cell the grader executes, recording why anything was left out."""
    source, notes = strip_magics(cell.source)
    if cell.kind == "other":
        source, more = definitions_only(source)
        if not cell.locked:  # a locked measuring cell is skipped by design; only say so for the student's own cells
            notes += more
    cell.notes.extend(notes)
    return source


def _source_text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def read_cells(path: Path, max_file_bytes: int = DEFAULTS.max_file_bytes,
               max_source_bytes: int = DEFAULTS.max_source_bytes) -> list[Cell]:
    """Parse a submission into cells, raising SubmissionError with a readable reason.

    Outputs (embedded images, long prints) are never run, so they do not count
    against the source limit: only a file too large to read safely is refused
    for its size alone.
    """
    path = Path(path)
    if path.is_symlink():
        raise SubmissionError(_("{name} is a symbolic link; submit the notebook file itself", name=path.name))
    if not path.is_file():
        raise SubmissionError(_("{path} is missing or not a regular file", path=path))
    size = path.stat().st_size
    if size > max_file_bytes:
        raise SubmissionError(
            _("{name} is {size:.1f} MiB, over the {limit:g} MiB a file may have to be read safely (outputs included; "
              "clear them: Kernel → Restart & Clear Output, then save)", name=path.name, size=size / 2**20,
              limit=max_file_bytes / 2**20))
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SubmissionError(_("{name} cannot be read: {error}", name=path.name, error=err.strerror)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SubmissionError(_("{name} is not UTF-8 text (byte {byte}); save it again from Jupyter", name=path.name,
                                byte=err.start)) from None
    del raw
    if path.suffix == ".py":
        cells = [Cell(0, None, "solution", text)]
    else:
        cells = _notebook_cells(path, text)
    source_bytes = sum(len(c.source.encode("utf-8")) for c in cells if c.kind != "test")
    if source_bytes > max_source_bytes:
        raise SubmissionError(
            _("{name} holds {size:.1f} MiB of code, over the {limit:g} MiB the grader runs (outputs do not count; "
              "is a large literal or pasted data in a code cell?)", name=path.name, size=source_bytes / 2**20,
              limit=max_source_bytes / 2**20))
    return cells


def _notebook_cells(path: Path, text: str) -> list[Cell]:
    """The code cells of a notebook's JSON text; outputs are dropped as soon as the JSON is parsed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SubmissionError(_("{name} is not valid notebook JSON (line {line}, column {column}: {error})",
                                name=path.name, line=err.lineno, column=err.colno, error=err.msg)) from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise SubmissionError(_("{name} is JSON but not a Jupyter notebook (no 'cells')", name=path.name))
    major = data.get("nbformat")
    if major != 4:
        try:
            data = nbformat.convert(nbformat.from_dict(data), 4)
        except Exception as err:  # nbformat raises several types for old or odd files
            raise SubmissionError(_("{name} uses notebook format {version!r}, which could not be converted to 4: "
                                    "{error}", name=path.name, version=major, error=err)) from None
    cells = []
    for index, cell in enumerate(data.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = _nbgrader(cell)
        cells.append(Cell(index, meta.get("grade_id"), cell_kind(cell), _source_text(cell.get("source")),
                          locked=bool(meta.get("locked"))))
    return cells


def check_expected_cells(cells: list[Cell], expected_ids: list[str]) -> list[str]:
    """Problems with the graded cells: missing or duplicated grade_ids (the grader still runs what it finds)."""
    problems = []
    found = [c.grade_id for c in cells if c.kind == "solution"]
    for grade_id in expected_ids:
        count = found.count(grade_id)
        if count == 0:
            problems.append(_("the solution cell '{grade_id}' is missing (was it deleted, or its metadata lost?)",
                              grade_id=grade_id))
        elif count > 1:
            problems.append(_("the solution cell '{grade_id}' appears {count} times; all copies run, the last wins",
                              grade_id=grade_id, count=count))
    return problems
