"""Bad submissions get a clear row and message; the rest of the notebook (and of the class) is still graded."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
import sqlite3
import tempfile
import traceback
from pathlib import Path

import nbformat
import pytest
from conftest import by_name, solution_notebook, write_submission
from rich.console import Console

from grader.course import assignment_ids
from grader.run import GradeRun, discover
from grader.settings import DEFAULTS, Settings
from grader.unit import grade_unit

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


def test_file_too_large_to_read_safely_is_refused_unread(tmp_path):
    path = place(tmp_path)
    with open(path, "wb") as handle:
        handle.truncate(DEFAULTS.max_file_bytes + 1)  # sparse: costs no disk
    result = grade(path)
    assert result.score == 0 and result.status.startswith("not graded: densenet.ipynb is 100.0 MiB")
    assert "over the 100 MiB a file may have to be read safely" in result.status and "Clear Output" in result.status


def test_notebook_made_large_by_its_outputs_is_graded(tmp_path):
    """Outputs are never run: 30 MB of embedded images and printed text cost the student nothing."""
    nb = solution_notebook(TASK)
    code = [c for c in nb.cells if c.cell_type == "code"]
    image = base64.b64encode(os.urandom(18 * 2**20)).decode()  # 24 MiB of base64 text
    code[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": image, "text/plain": "<Figure>"})]
    code[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="loss 0.125\n" * 600_000)]
    path = write_submission(tmp_path, TASK, base=nb)
    assert path.stat().st_size > 30 * 10**6
    result = grade(path)
    assert result.status == "graded" and result.score == result.max_score > 0, result.status


def test_too_much_code_is_refused_with_the_reason(tmp_path):
    nb = solution_notebook(TASK)
    nb.cells.append(nbformat.v4.new_code_cell("DATA = " + repr("x" * (DEFAULTS.max_source_bytes + 10))))
    result = grade(write_submission(tmp_path, TASK, base=nb))
    assert result.score == 0 and "MiB of code, over the 2 MiB the grader runs" in result.status
    assert all("outputs do not count" in t.message for t in result.tests)


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
    graded = [u for u in units if u.student_id != "kim"]
    assert [(u.student_id, u.assignment) for u in graded] == [("lee", TASK), ("park", TASK)]
    assert "should be in a folder lee/densenet/" in graded[0].problems[0]
    assert graded[1].path is None and "no densenet.ipynb" in graded[1].problems[0]
    # kim's only folder is misnamed: kim keeps a row per assignment, each saying why nothing was graded
    kim = [u for u in units if u.student_id == "kim"]
    assert [u.assignment for u in kim] == list(assignment_ids()) and all(u.path is None for u in kim)
    assert "no notebook of this course" in kim[0].problems[0]
    text = "\n".join(problems)
    assert "did you mean 'vgg'" in text
    assert "README.txt: a file at the top of the submissions folder is not a student" in text


def _discover_as_nobody(root):
    """discover(root) as the grader sees it when it does not run as root (root reads every folder anyway)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, list, report, exit without running pytest's teardown
        try:
            os.close(reader)
            import grader.run

            the_course = grader.run.course()  # a grader without root owns its kit; only the submissions are closed
            grader.run.course = lambda root=None: the_course
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            units, problems = discover(root)
            report = {"units": [[u.student_id, u.assignment, u.path and str(u.path), u.problems] for u in units],
                      "problems": problems}
        except BaseException:
            report = {"error": traceback.format_exc()}
        try:
            os.write(writer, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    report = json.loads(data)
    assert "error" not in report, report.get("error")
    return report


def test_skipped_student_folders_keep_a_row_per_assignment(tmp_path):
    """A linked, unreadable or empty student folder: one unit per assignment without a file, with the reason."""
    root = tmp_path / "submitted"
    write_submission(root, TASK, student="ann")
    elsewhere = write_submission(tmp_path / "elsewhere", TASK, student="bob").parents[1]
    os.symlink(elsewhere, root / "bob", target_is_directory=True)
    (root / "cho").mkdir()  # nothing in it
    units, problems = discover(root)
    by_student = {}
    for unit in units:
        by_student.setdefault(unit.student_id, []).append(unit)
    assert [u.assignment for u in by_student["ann"]] == [TASK] and by_student["ann"][0].path is not None
    for student, why in (("bob", "is a symbolic link, which the grader does not follow"),
                         ("cho", "no notebook of this course")):
        rows = by_student[student]
        assert [u.assignment for u in rows] == list(assignment_ids()) and all(u.path is None for u in rows)
        assert why in rows[0].problems[0]
        assert any(why in p and "recorded as 0 for every assignment" in p for p in problems)


def test_an_unreadable_student_folder_keeps_its_rows():
    root = Path(tempfile.mkdtemp(prefix="unreadable-class-"))  # outside pytest's 0700 tmp: nobody must reach it
    try:
        for student, task in (("ann", TASK), ("dan", TASK), ("eve", "vgg"), ("eve", TASK)):
            write_submission(root, task, student=student)
        for folder, _dirs, _files in os.walk(root):
            os.chmod(folder, 0o755)
        (root / "dan").chmod(0o000)  # chmod 000: unreadable to every user but root
        (root / "eve" / "vgg").chmod(0o000)
        seen = _discover_as_nobody(root)
    finally:
        for folder, _dirs, _files in os.walk(root):
            os.chmod(folder, 0o755)
        (root / "dan").chmod(0o755)
        (root / "eve" / "vgg").chmod(0o755)
        shutil.rmtree(root)
    units = {(student, task): (path, notes) for student, task, path, notes in seen["units"]}
    assert units[("ann", TASK)][0].endswith("ann/densenet/densenet.ipynb")
    assert [task for student, task in units if student == "dan"] == list(assignment_ids())
    assert all(units[("dan", task)][0] is None for task in assignment_ids())
    assert "the grader cannot read this student folder (Permission denied)" in units[("dan", TASK)][1][0]
    assert units[("eve", "vgg")][0] is None and "cannot read this folder" in units[("eve", "vgg")][1][0]
    assert units[("eve", TASK)][0] is not None
    assert any("dan: the grader cannot read" in p for p in seen["problems"])


def test_skipped_students_have_rows_in_the_csv_the_gradebook_and_the_summary(tmp_path, capsys):
    """The whole run: a linked and an empty student folder keep their rows; a stray file is reported, not graded."""
    root = tmp_path / "submitted"
    root.mkdir()
    os.symlink(write_submission(tmp_path / "elsewhere", TASK, student="bob").parents[1], root / "bob")
    (root / "cho").mkdir()
    (root / "grading-notes.txt").write_text("a TA's notes, not a student")
    out = tmp_path / "grades"
    run_output = io.StringIO()
    results = GradeRun(root, out, workers=1, only=(TASK,), console=Console(file=run_output)).run()
    printed = run_output.getvalue() + capsys.readouterr().out

    assert sorted((r.student_id, r.score, r.needs_review) for r in results) == [("bob", 0, True), ("cho", 0, True)]
    with open(out / "grades.csv", encoding="utf-8") as handle:
        rows = sorted((r["student_id"], r["assignment"], r["score"]) for r in csv.DictReader(handle))
    assert rows == [("bob", TASK, "0.0"), ("cho", TASK, "0.0")]  # nbgrader export's number format
    with sqlite3.connect(out / "gradebook.db") as db:
        book = dict(db.execute("SELECT student_id, status FROM results WHERE needs_review = 1").fetchall())
    assert "symbolic link" in book["bob"] and "no notebook of this course" in book["cho"]
    saved = json.loads((out / "results" / "cho" / f"{TASK}.json").read_text("utf-8"))
    assert saved["needs_review"] and "no notebook of this course" in saved["review_reasons"][0]
    assert saved["max_score"] > 0 and all(t["outcome"] == "error" for t in saved["tests"])
    summary = (out / "summary.html").read_text("utf-8")
    assert "bob" in summary and "cho" in summary and "grading-notes.txt" in summary
    assert "grading-notes.txt: a file at the top of the submissions folder is not a student" in printed
    assert "bob/densenet: 0/" in printed and "needs review" in printed
    assert "grading-notes.txt" not in {r.student_id for r in results}
