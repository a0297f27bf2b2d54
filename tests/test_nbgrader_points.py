"""nbgrader's points are the hidden tests' points: one grade cell per exercise, stamped by `make release`."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from grader.course import ASSIGNMENTS, project_root
from grader.nbgrader_course.course import course_for
from grader.nbgrader_course.exercises import disagreements, grade_cell_of, points_by_exercise, stamp_points
from grader.unit import collect_tests
from grader.course import assignment

ROOT = project_root()


@pytest.mark.parametrize("task", ASSIGNMENTS)
def test_solutions_and_release_carry_the_hidden_tests_points(task):
    for folder in ("solutions", "assignments"):
        path = ROOT / folder / task / f"{task}.ipynb"
        assert disagreements(path, task) == [], "\n".join(disagreements(path, task))
    nb = nbformat.read(ROOT / "assignments" / task / f"{task}.ipynb", as_version=4)
    graded = sum(c.metadata["nbgrader"]["points"] for c in nb.cells
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    assert graded == sum(t["max_points"] for t in collect_tests(assignment(task)))
    assert set(grade_cell_of(nb)) == set(points_by_exercise(task))  # every exercise has exactly one grade cell


def test_a_notebook_that_disagrees_is_caught_and_make_release_stamps_it(tmp_path):
    path = tmp_path / "vgg.ipynb"
    shutil.copy(ROOT / "solutions" / "vgg" / "vgg.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") == "check_vgg16":
            meta["points"] = 2  # what the notebooks said before the hidden tests decided
        if meta.get("grade_id") == "check_vgg19":
            meta["points"] = 2
    nbformat.write(nb, path)
    found = disagreements(path, "vgg")
    assert len(found) == 2 and "check_vgg16" in found[0] and "13" in found[0] and "check_vgg19" in found[1]
    assert stamp_points(path, "vgg") is True
    assert disagreements(path, "vgg") == []
    assert stamp_points(path, "vgg") is False  # stamping twice changes nothing


def test_an_exercise_without_a_check_cell_is_named(tmp_path):
    path = tmp_path / "vgg.ipynb"
    nb = nbformat.read(ROOT / "solutions" / "vgg" / "vgg.ipynb", as_version=4)
    nb.cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "check_vgg_block"]
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="vgg_block"):
        stamp_points(path, "vgg")


def test_only_a_courses_submitted_folder_writes_its_gradebook(tmp_path):
    course = tmp_path / "course"
    (course / "submitted").mkdir(parents=True)
    (course / "elsewhere").mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    found = course_for(course / "submitted")
    assert found is not None and found.root == course.resolve()
    assert found.db_url == f"sqlite:///{course.resolve() / '.nbgrader' / 'gradebook.db'}"
    assert (course / ".nbgrader").is_dir()  # nbgrader cannot open a SQLite file in a missing folder
    assert course_for(course / "elsewhere") is None
    assert course_for(ROOT / "examples" / "submissions") is None  # `make grade`'s demo never touches a roster
    assert course_for(Path(tmp_path)) is None


def test_readme_shows_each_exercises_grade_cell_and_points():
    from grader.nbgrader_course.exercises import grade_cells_table

    assert grade_cells_table() in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "README's grade-cell table is stale: paste `python -m grader points --grade-cells`"
