"""`make check NB=...`: the visible checks, run through the grader's loader and sandbox."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, write_submission


def check(path):
    return subprocess.run([sys.executable, "-m", "grader", "check", str(path)], capture_output=True, text=True,
                          timeout=300, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_released_stub_fails_its_visible_checks_with_readable_messages():
    done = check(ROOT / "assignments" / "vgg" / "vgg.ipynb")
    assert done.returncode == 1
    assert "failed" in done.stdout and "Not implemented yet" in done.stdout
    assert "visible check(s) failed" in done.stdout


def test_solution_passes_every_visible_check(tmp_path):
    done = check(write_submission(tmp_path, "vgg"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All visible checks pass" in done.stdout and "failed" not in done.stdout


def test_one_implemented_exercise_turns_its_check_green(tmp_path):
    from conftest import released_notebook, solution_notebook

    nb = released_notebook("vgg")
    solved = {c.metadata.nbgrader.grade_id: c.source for c in solution_notebook("vgg").cells
              if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "conv_params"}
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "conv_params":
            cell.source = solved["conv_params"]
    done = check(write_submission(tmp_path, "vgg", base=nb))
    lines = [line for line in done.stdout.splitlines() if "check_conv_params" in line]
    assert lines and "passed" in lines[0], done.stdout
