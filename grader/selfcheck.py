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

from grader.i18n import _
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
                console.print("[yellow]" + _("cell {cell} did not run:", cell=report['cell']) + "[/yellow] "
                              + report['message'])
        table = Table(title=_("Visible checks in {name}", name=path.name))
        table.add_column(_("check"))
        table.add_column(_("result"))
        for cell in cells:
            if cell.kind != "test":
                continue
            try:
                child.request(request(Op.RUN_CELL, label=cell.label, source=cell.source),
                              timeout=settings.cell_timeout)
                table.add_row(cell.label, "[green]" + _("passed") + "[/green]")
            except StudentRaised as err:
                failed += 1
                message = err.message if err.type_name == "AssertionError" else student_message(err)
                table.add_row(cell.label, "[red]" + _("failed") + f"[/red]: {message}")
            except StudentTimeout as err:  # the child lives on: no need to run the cells again
                failed += 1
                table.add_row(cell.label, "[red]" + _("failed") + f"[/red]: {student_message(err)}")
            except SandboxError as err:
                failed += 1
                table.add_row(cell.label, "[red]" + _("stopped") + f"[/red]: {err}")
                child, _reports = run_cells(cells, fork, settings)
        child.close()
        console.print(table)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    console.print(_("All visible checks pass. The hidden tests check more; see the README.") if not failed else
                  _("{failed} visible check(s) failed.", failed=failed))
    return failed
