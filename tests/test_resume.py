"""`make grade` killed midway loses nothing, and an unchanged submission is not graded twice."""
from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import released_notebook, solution_notebook, write_submission

TASK = "densenet"


def make_class(root):
    slow = solution_notebook(TASK)
    setup = next(c for c in slow.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup")
    setup.source += "\nimport time\ntime.sleep(2)  # a slow but honest setup cell\n"
    write_submission(root, TASK, student="a_slow", base=slow)
    write_submission(root, TASK, student="b_full")
    write_submission(root, TASK, student="c_stub", base=released_notebook(TASK))
    write_submission(root, TASK, student="d_slow", base=slow)


def grade_command(root, out, *extra):
    return [sys.executable, "-m", "grader", "grade", str(root), "--out", str(out), "--workers", "1",
            "--assignment", TASK, *extra]


def graded_rows(out):
    try:
        with sqlite3.connect(out / "gradebook.db") as db:
            return db.execute("SELECT student_id, score FROM results").fetchall()
    except sqlite3.Error:
        return []


def read_csv(out):
    with open(out / "grades.csv", encoding="utf-8") as handle:
        return sorted((r["student_id"], r["score"], r["max_score"]) for r in csv.DictReader(handle))


def test_kill_midway_then_resume_loses_nothing(tmp_path):
    root, out = tmp_path / "submitted", tmp_path / "grades"
    make_class(root)
    run = subprocess.Popen(grade_command(root, out), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(graded_rows(out)) < 1 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    done_before = len(graded_rows(out))
    assert 1 <= done_before < 4, "the kill must land midway"

    resumed = subprocess.run(grade_command(root, out), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done_before} already graded and unchanged, {4 - done_before} to grade" in resumed.stderr
    after_resume = read_csv(out)
    assert [(student, score == top) for student, score, top in after_resume] == [
        ("a_slow", True), ("b_full", True), ("c_stub", False), ("d_slow", True)]
    assert len(list((out / "results").rglob("*.json"))) == 4

    again = subprocess.run(grade_command(root, out), capture_output=True, text=True, timeout=300)
    assert "4 already graded and unchanged, 0 to grade" in again.stderr
    # --force grades every unit from scratch: the grades of an uninterrupted run, to compare the resumed run with
    forced = subprocess.run(grade_command(root, out, "--force"), capture_output=True, text=True, timeout=300)
    assert "0 already graded and unchanged, 4 to grade" in forced.stderr
    assert after_resume == read_csv(out)


def test_a_grader_failure_is_graded_again_by_the_next_run(tmp_path):
    """A unit stopped by the grader's own fault (a worker that died, an internal error) is not kept as done."""
    from dataclasses import replace

    from grader.gradebook import Gradebook
    from grader.run import Unit, _grader_failure

    path = tmp_path / "s" / TASK / f"{TASK}.ipynb"
    write_submission(tmp_path / "s", TASK, student="s")
    unit = Unit("s", TASK, path, [])
    book = Gradebook(tmp_path / "gradebook.db")
    failed = _grader_failure(unit, "internal grader error: RuntimeError: boom")
    assert failed.status.startswith("not graded: internal grader error") and failed.score == 0
    assert "the next run grades it again" in failed.status and failed.grader_failure
    assert not failed.needs_review, "the student did nothing wrong"
    book.save(failed, "sub-hash", "tests-hash")
    assert not book.is_current("s", TASK, "sub-hash", "tests-hash")
    assert book.results() == [failed], "the gradebook gives back what it was given"
    graded = replace(failed, status="graded", grader_failure=False)
    book.save(graded, "sub-hash", "tests-hash")
    assert book.is_current("s", TASK, "sub-hash", "tests-hash")
    assert not book.is_current("s", TASK, "other-hash", "tests-hash")
