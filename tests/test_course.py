"""The course is data: a toy assignment added as docs/adding-an-assignment.md says is released and graded end to end.

The toy course lives in a temporary folder (``CNN_KIT_ROOT`` points the kit at
it): a course file with one entry, a solutions notebook and a hidden-test file,
nothing else. nbgrader releases it, ``python -m grader grade`` grades three
students through the real sandbox, and every output names the new assignment.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.course import CourseError, assignment, assignment_ids, course, project_root
from grader.release import find_leaks, generate

ROOT = project_root()

COURSE = '''
[course]
title = "A toy course"

[[assignments]]
id = "toy"
title = "Doubling"
source = "solutions/toy/toy.ipynb"
tests = "autograde_tests/test_toy.py"
release = "assignments/toy/toy.ipynb"
'''

HIDDEN_TESTS = '''
"""Hidden tests of the toy assignment: double(x) is 2x, for numbers and tensors."""
import pytest
import torch


@pytest.mark.points(2)
@pytest.mark.exercise("double")
def test_double_of_a_number(student, reference):
    """double(21) is 42"""
    got = student.double(21)
    assert got == reference.double(21), f"double(21) gave {got}, expected 42"


@pytest.mark.points(1)
@pytest.mark.exercise("double")
def test_double_of_a_tensor(student, reference, device):
    """double keeps a tensor's shape"""
    x = torch.arange(6.0, device=device).reshape(2, 3)
    got = student.double(x)
    assert torch.equal(got.cpu(), reference.double(x).cpu()), f"double gave {got.tolist()} for {x.tolist()}"
'''


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, points: int | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def toy_notebook(body: str = "    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION") -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Doubling\nWrite `double(x)`.", metadata=_meta("md_intro")),
        nbformat.v4.new_code_cell("import torch", metadata=_meta("setup")),
        nbformat.v4.new_code_cell(f'def double(x):\n    """Twice x."""\n{body}\n',
                                  metadata=_meta("double", solution=True)),
        nbformat.v4.new_code_cell("assert double(3) == 6", metadata=_meta("check_double", grade=True, points=1)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


@pytest.fixture
def toy_course(tmp_path, monkeypatch) -> Path:
    """The three things a maintainer writes: the course entry, the solutions notebook, the hidden tests."""
    root = tmp_path / "course"
    (root / "solutions" / "toy").mkdir(parents=True)
    (root / "autograde_tests").mkdir()
    (root / "course.toml").write_text(COURSE, encoding="utf-8")
    nbformat.write(toy_notebook(), root / "solutions" / "toy" / "toy.ipynb")
    (root / "autograde_tests" / "test_toy.py").write_text(HIDDEN_TESTS, encoding="utf-8")
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")  # the kit's, as in a copied checkout
    monkeypatch.setenv("CNN_KIT_ROOT", str(root))
    return root


def test_a_toy_assignment_is_released_and_graded_end_to_end(toy_course, tmp_path):
    assert project_root() == toy_course and assignment_ids() == ("toy",)
    generate(toy_course)  # what `make release` runs
    release = assignment("toy").release_notebook
    assert "raise NotImplementedError()" in release.read_text(encoding="utf-8")
    assert find_leaks(toy_course) == []

    submitted = tmp_path / "submitted"
    for student, nb in (("ann", toy_notebook()), ("ben", nbformat.read(release, as_version=4)),
                        ("cho", toy_notebook("    return x + 1"))):
        (submitted / student / "toy").mkdir(parents=True)
        nbformat.write(nb, submitted / student / "toy" / "toy.ipynb")
    out = tmp_path / "grades"
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(submitted), "--out", str(out),
                           "--workers", "1"], capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]

    with open(out / "grades.csv", encoding="utf-8") as handle:
        rows = {r["student_id"]: (r["assignment"], r["score"], r["max_score"]) for r in csv.DictReader(handle)}
    assert rows == {"ann": ("toy", "3.0", "3.0"), "ben": ("toy", "0.0", "3.0"), "cho": ("toy", "0.0", "3.0")}
    ben = json.loads((out / "results" / "ben" / "toy.json").read_text(encoding="utf-8"))
    assert all(t["message"].startswith("Not implemented yet") and "double" in t["message"] for t in ben["tests"])
    cho = json.loads((out / "results" / "cho" / "toy.json").read_text(encoding="utf-8"))
    assert "double(21) gave 22, expected 42" in cho["tests"][0]["message"]
    assert "toy" in (out / "summary.html").read_text(encoding="utf-8")


def test_a_wrong_course_entry_is_refused_with_the_file_and_the_entry(toy_course):
    path = toy_course / "course.toml"
    path.write_text(COURSE.replace('source = "solutions/toy/toy.ipynb"', 'source = "notebooks/toy.ipynb"'))
    with pytest.raises(CourseError, match=r"course.toml: assignment 1 \('toy'\): source = 'notebooks/toy.ipynb' "
                                          r"must be solutions/toy/<name>.ipynb"):
        course()
    path.write_text(COURSE + COURSE.split("[course]")[1].split('title = "A toy course"')[1])
    with pytest.raises(CourseError, match="assignment 2: the id 'toy' is listed twice"):
        course()
    path.unlink()
    with pytest.raises(CourseError, match="cannot read the course file"):
        course()


def test_the_kit_course_lists_the_five_assignments_and_their_files():
    the_course = course(ROOT)
    assert the_course.ids == ("alexnet", "vgg", "inception", "resnet", "densenet")
    for task in the_course.assignments:
        assert task.source_notebook.is_file() and task.tests.is_file() and task.release_notebook.is_file()
