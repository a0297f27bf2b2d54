"""Every hidden test names the one exercise it grades, ``@pytest.mark.exercise("<grade_id>")``.

Later work (nbgrader grade cells, charging one mistake once) reads this mapping,
so it must be complete: one marker per test, a real solution cell of that
assignment, and no solution cell without a test.
"""
from __future__ import annotations

import ast

import pytest

from grader.course import assignment, assignment_ids
from grader.unit import collect_tests


def _exercise_markers(function: ast.FunctionDef) -> list[ast.Call]:
    return [d for d in function.decorator_list if isinstance(d, ast.Call) and ast.unparse(d.func) ==
            "pytest.mark.exercise"]


@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_every_hidden_test_has_exactly_one_exercise_marker(assignment_id):
    task = assignment(assignment_id)
    tree = ast.parse(task.tests.read_text(encoding="utf-8"))
    assert not [n for n in tree.body if isinstance(n, ast.Assign) and "pytestmark" in ast.unparse(n)], \
        "mark each test, not the module"
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert tests
    for test in tests:
        markers = _exercise_markers(test)
        assert len(markers) == 1, f"{task.tests.name}::{test.name} has {len(markers)} exercise markers"
        (marker,) = markers
        assert len(marker.args) == 1 and isinstance(marker.args[0], ast.Constant) and not marker.keywords, \
            f"{test.name}: write @pytest.mark.exercise(\"<grade_id>\") with one literal grade_id"


@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_exercise_markers_name_solution_cells_and_cover_them_all(assignment_id):
    task = assignment(assignment_id)
    solution_ids = task.solution_ids()
    tests = collect_tests(task)
    unknown = {t["name"]: t["exercise"] for t in tests if t["exercise"] not in solution_ids}
    assert not unknown, f"not a solution grade_id of {task.source_notebook.name} ({solution_ids}): {unknown}"
    untested = [grade_id for grade_id in solution_ids if grade_id not in {t["exercise"] for t in tests}]
    assert not untested, f"solution cells of {assignment_id} that no hidden test grades: {untested}"
