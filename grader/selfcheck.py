"""``make check NB=...``: a student's self-check, the notebook's visible checks only.

It goes through the same loader and the same sandbox as grading, so what a
student sees here is what the grader will be able to run; it never touches
the hidden tests.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grader.notebook import SubmissionError, read_cells
from grader.pytest_plugin import student_message
from grader.sandbox.client import SandboxError, StudentRaised, StudentTimeout
from grader.settings import DEFAULTS
from grader.unit import run_cells, sandbox_config, zygote
from grader.wire import Op, request


def self_check(path: Path, console: Console | None = None) -> int:
    """Run the cells, then each visible check cell; print a table. Returns the number of failed checks."""
    console = console or Console()
    settings = DEFAULTS
    try:
        cells = read_cells(path)
    except SubmissionError as err:
        console.print(f"[red]{path}: {err}[/red]")
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="cnn-check-"))
    failed = 0
    try:
        fork = lambda: zygote().fork(sandbox_config(settings, scratch))  # noqa: E731
        child, reports = run_cells(cells, fork, settings)
        for report in reports:
            if report["status"] != "ok":
                console.print(f"[yellow]cell {report['cell']} did not run:[/yellow] {report['message']}")
        table = Table(title=f"Visible checks in {path.name}")
        table.add_column("check")
        table.add_column("result")
        for cell in cells:
            if cell.kind != "test":
                continue
            try:
                child.request(request(Op.RUN_CELL, label=cell.label, source=cell.source),
                              timeout=settings.cell_timeout)
                table.add_row(cell.label, "[green]passed[/green]")
            except StudentRaised as err:
                failed += 1
                message = err.message if err.type_name == "AssertionError" else student_message(err)
                table.add_row(cell.label, f"[red]failed[/red]: {message}")
            except StudentTimeout as err:  # the child lives on: no need to run the cells again
                failed += 1
                table.add_row(cell.label, f"[red]failed[/red]: {student_message(err)}")
            except SandboxError as err:
                failed += 1
                table.add_row(cell.label, f"[red]stopped[/red]: {err}")
                child, _ = run_cells(cells, fork, settings)
        child.close()
        console.print(table)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    console.print("All visible checks pass. The hidden tests check more; see the README." if not failed else
                  f"{failed} visible check(s) failed.")
    return failed
