"""Every notebook runs in a fresh Jupyter kernel: the solutions top to bottom without an error, the
student release failing only in its visible checks and measuring cells, each with a readable message."""
from __future__ import annotations

import time

import nbformat
import pytest
from nbclient import NotebookClient

from grader.course import ASSIGNMENTS, project_root

ROOT = project_root()


def execute(path, allow_errors: bool) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb, time.monotonic() - started


@pytest.mark.parametrize("task", ASSIGNMENTS)
def test_solution_notebook_runs_top_to_bottom(task):
    nb, seconds = execute(ROOT / "solutions" / task / f"{task}.ipynb", allow_errors=False)
    assert seconds < 60, f"{task} took {seconds:.1f} s"
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "✓" in printed  # the visible checks ran and said so


@pytest.mark.parametrize("task", ASSIGNMENTS)
def test_released_notebook_fails_only_in_checks_and_measurements(task):
    nb, _ = execute(ROOT / "assignments" / task / f"{task}.ipynb", allow_errors=True)
    failed = {}
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            meta = cell.metadata.get("nbgrader", {})
            failed[meta.get("grade_id")] = (meta, errors[0])
    assert failed, f"{task}: the untouched release should fail its checks"
    for grade_id, (meta, error) in failed.items():
        is_check = meta.get("grade") and not meta.get("solution")
        is_measure = str(grade_id).startswith("measure_")
        is_quiz_stub = grade_id == "quiz"  # a top-level solution region becomes `raise NotImplementedError()`
        assert is_check or is_measure or is_quiz_stub, f"{task}: cell {grade_id} failed: {error['ename']}"
        assert error["ename"] in ("NotImplementedError", "AssertionError"), (grade_id, error["ename"])
