"""Bad submissions get a clear row and message; the rest of the notebook (and of the class) is still graded."""
from __future__ import annotations

import json
import os

import nbformat
import pytest
from conftest import by_name, solution_notebook, write_submission

from grader.run import discover
from grader.unit import Settings, grade_unit

TASK = "densenet"
FAST = Settings(cell_timeout=3, call_timeout=10)


def grade(path):
    return grade_unit(path, TASK, "student", FAST)


def cell_of(nb, grade_id):
    return next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def place(tmp_path, name=f"{TASK}.ipynb"):
    path = tmp_path / "student" / TASK / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("content, expected", [
    (b'{"cells": [', "not valid notebook JSON (line 1"),
    (b"[1, 2, 3]", "not a Jupyter notebook"),
    (b'{"metadata": {}}', "not a Jupyter notebook"),
    ("print('hello')".encode("utf-16"), "not UTF-8"),
])
def test_unreadable_file_gets_a_row_with_the_reason(tmp_path, content, expected):
    path = place(tmp_path)
    path.write_bytes(content)
    result = grade(path)
    assert result["score"] == 0 and result["max_score"] > 0
    assert expected in result["status"] and "densenet.ipynb" in result["status"]
    assert all(t["outcome"] == "error" and expected in t["message"] for t in result["tests"])


def test_huge_file_is_refused_unread(tmp_path):
    path = place(tmp_path)
    with open(path, "wb") as handle:
        handle.truncate(21 * 1024 * 1024)
    result = grade(path)
    assert "over the 20 MiB limit" in result["status"] and "Clear Output" in result["status"]


def test_symlink_is_refused(tmp_path):
    real = write_submission(tmp_path / "elsewhere", TASK)
    path = place(tmp_path)
    os.symlink(real, path)
    assert "symbolic link" in grade(path)["status"]


def test_old_nbformat_3_is_converted_and_graded(tmp_path):
    source = "\n\n".join(c.source for c in solution_notebook(TASK).cells
                         if c.cell_type == "code" and c.metadata.nbgrader.get("grade_id") in
                         ("setup", "dense_layer", "dense_block", "transition", "dense_channels", "densenet"))
    old = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[
        nbformat.v3.new_code_cell(input=source)])])
    path = place(tmp_path)
    path.write_text(nbformat.v3.writes_json(old), encoding="utf-8")
    assert json.loads(path.read_text())["nbformat"] == 3
    result = grade(path)
    assert result["status"] == "graded"
    # nbformat 3 has no nbgrader metadata: the grader says so, and still runs the definitions it finds
    assert any("'dense_layer' is missing" in p for p in result["problems"])
    assert result["score"] == result["max_score"]


def test_deleted_renamed_and_duplicated_cells(tmp_path):
    nb = solution_notebook(TASK)
    channels = cell_of(nb, "dense_channels")
    channels.source = channels.source.replace("def dense_channels(", "def denseChannels(")
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(cell_of(nb, "transition")))))
    nb.cells.remove(cell_of(nb, "densenet"))
    path = write_submission(tmp_path, TASK, base=nb)
    result = grade(path)
    problems = " ".join(result["problems"])
    assert "'densenet' is missing" in problems and "'transition' appears 2 times" in problems
    tests = by_name(result)
    renamed = [t for t in tests.values() if "dense_channels" in t["message"]]
    assert renamed and all("not defined in your notebook" in t["message"] for t in renamed)
    assert any(t["outcome"] == "passed" for t in tests.values()), "the rest of the notebook must still be graded"


def test_syntax_error_hang_and_exit_in_cells_do_not_stop_later_cells(tmp_path):
    nb = solution_notebook(TASK)
    cell_of(nb, "dense_channels").source = "def dense_channels(a, b, c)\n    return a + b * c\n"
    nb.cells.insert(1, nbformat.v4.new_code_cell("import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                                "def spin():\n    while True:\n        pass\n"))
    extra = nbformat.v4.new_code_cell("spin()", metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "spin_forever", "schema_version": 3}})
    crash = nbformat.v4.new_code_cell("import os\nos._exit(3)", metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "exit_now", "schema_version": 3}})
    nb.cells.insert(2, extra)
    nb.cells.insert(3, crash)
    result = grade(write_submission(tmp_path, TASK, base=nb))
    cells = {c["cell"]: c for c in result["cells"]}
    assert cells["dense_channels"]["status"] == "error" and "SyntaxError" in cells["dense_channels"]["message"]
    assert "line 1" in cells["dense_channels"]["message"]
    assert cells["spin_forever"]["status"] in ("timeout", "crashed")
    assert cells["exit_now"]["status"] == "crashed" and "ended the grading process" in cells["exit_now"]["message"]
    assert cells["densenet"]["status"] == "ok", "cells after a hang or a crash still run"
    passed = [t for t in result["tests"] if t["outcome"] == "passed"]
    assert passed and result["score"] < result["max_score"]


def test_wrong_folder_layout_is_reported_and_graded_where_possible(tmp_path):
    root = tmp_path / "submitted"
    (root / "kim" / "VGG").mkdir(parents=True)
    (root / "kim" / "VGG" / "vgg.ipynb").write_text("{}")
    loose = root / "lee" / f"{TASK}.ipynb"
    loose.parent.mkdir(parents=True)
    nbformat.write(solution_notebook(TASK), loose)
    (root / "README.txt").write_text("not a student")
    (root / "park" / TASK).mkdir(parents=True)
    units, problems = discover(root)
    assert [(u.student_id, u.assignment) for u in units] == [("lee", TASK), ("park", TASK)]
    assert "should be in a folder lee/densenet/" in units[0].problems[0]
    assert units[1].path is None and "no densenet.ipynb" in units[1].problems[0]
    text = "\n".join(problems)
    assert "did you mean 'vgg'" in text and "README.txt" in text
