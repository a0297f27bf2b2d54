"""Each exercise of the contract is one nbgrader grade cell worth the sum of its hidden tests' points.

The hidden tests are the one source of the points (``@pytest.mark.points`` and
``@pytest.mark.exercise`` in ``autograde_tests/``). ``make release`` stamps them
into the source notebooks' grade cells before nbgrader's ``generate_assignment``
copies them into ``assignments/`` and the course's gradebook, and
``tests/test_nbgrader_points.py`` fails when a notebook disagrees with the tests.

An exercise's grade cell is the first visible check cell after its solution cell
(before the next solution cell). Further check cells of the same exercise stay
grade cells worth 0 points (so ``make check`` still runs them), so each exercise is counted once.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from grader.course import assignment
from grader.unit import collect_tests


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _is_check(cell) -> bool:
    """A visible check: a code cell ``check_*`` after a solution cell."""
    meta = _meta(cell)
    return (cell.cell_type == "code" and not meta.get("solution")
            and str(meta.get("grade_id", "")).startswith("check_"))


def exercise_cells(nb: nbformat.NotebookNode, where: str = "notebook") -> dict[str, list[str]]:
    """{exercise grade_id: [grade_ids of its check cells, the grade cell first]}, in notebook order.

    Raises ValueError naming WHERE when an exercise has no check cell to hold its points.
    """
    cells: dict[str, list[str]] = {}
    current = None
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("solution") and meta.get("grade_id"):
            current = meta["grade_id"]
            cells[current] = []
        elif current is not None and _is_check(cell):
            cells[current].append(meta["grade_id"])
    missing = [exercise for exercise, checks in cells.items() if not checks]
    if missing:
        raise ValueError(f"{where}: exercise(s) {', '.join(missing)} have no visible check cell (check_...) after "
                         f"their solution cell to hold their points")
    return cells


def grade_cell_of(nb: nbformat.NotebookNode, where: str = "notebook") -> dict[str, str]:
    """{exercise grade_id: grade_id of the nbgrader grade cell that carries its points}."""
    return {exercise: checks[0] for exercise, checks in exercise_cells(nb, where).items()}


def points_by_exercise(assignment_id: str) -> dict[str, float]:
    """{exercise: sum of its hidden tests' points}, from the hidden tests themselves."""
    points: dict[str, float] = {}
    for test in collect_tests(assignment(assignment_id)):
        if not test.get("exercise"):
            raise ValueError(f"autograde_tests/test_{assignment_id}.py: {test['name']} has no "
                             f"@pytest.mark.exercise(grade_id); every hidden test grades one exercise")
        points[test["exercise"]] = points.get(test["exercise"], 0) + test["max_points"]
    return points


def stamp_points(path: Path, assignment_id: str) -> bool:
    """Write the hidden tests' points into a source notebook's grade cells; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    points = points_by_exercise(assignment_id)
    cells = exercise_cells(nb, str(path))
    unknown = sorted(set(points) - set(cells))
    if unknown:
        raise ValueError(f"{path}: hidden tests name exercise(s) {', '.join(unknown)} that have no solution cell")
    wanted = {}
    for exercise, checks in cells.items():
        wanted[checks[0]] = points.get(exercise, 0)
        wanted.update({check: 0 for check in checks[1:]})
    changed = False
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("grade_id") not in wanted:
            continue
        value = wanted[meta["grade_id"]]
        new = {**meta, "grade": True, "points": int(value) if float(value).is_integer() else value}
        if new != meta:
            cell.metadata["nbgrader"] = new
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def disagreements(path: Path, assignment_id: str) -> list[str]:
    """Where a notebook's nbgrader points differ from the hidden tests (one line each, naming file and cell)."""
    nb = nbformat.read(path, as_version=4)
    try:
        cells = exercise_cells(nb, str(path))
        points = points_by_exercise(assignment_id)
    except ValueError as err:
        return [str(err)]
    by_id = {_meta(c).get("grade_id"): _meta(c) for c in nb.cells}
    problems = []
    for exercise, checks in cells.items():
        meta = by_id[checks[0]]
        want = points.get(exercise, 0)
        if not meta.get("grade") or meta.get("points") != want:
            problems.append(f"{path}, cell {checks[0]}: exercise {exercise} is worth {want:g} points in the hidden "
                            f"tests, the notebook says {meta.get('points') if meta.get('grade') else 'no grade'}; "
                            f"run `make release`")
        for extra in checks[1:]:
            if by_id[extra].get("grade") and by_id[extra].get("points"):
                problems.append(f"{path}, cell {extra}: a second grade cell with points for exercise {exercise} "
                                f"(its points belong to {checks[0]}); run `make release`")
    for exercise in sorted(set(points) - set(cells)):
        problems.append(f"{path}: hidden tests grade exercise {exercise}, which has no solution cell")
    return problems


def grade_cells_table() -> str:
    """Markdown: each exercise's nbgrader grade cell and points (``python -m grader points --grade-cells``, README)."""
    from grader.course import assignment_ids

    rows = []
    for task in assignment_ids():
        source = assignment(task).source_notebook
        cells = grade_cell_of(nbformat.read(source, as_version=4), str(source))
        points = points_by_exercise(task)
        rows.extend(f"| `{task}` | `{exercise}` | `{cell}` | {points.get(exercise, 0):g} |"
                    for exercise, cell in cells.items())
    return "| assignment | exercise | nbgrader grade cell | points |\n|---|---|---|---|\n" + "\n".join(rows)
