"""What the coordinator writes into a course's nbgrader gradebook, checked without grading anything (fast).

Results are written by hand here; tests/test_nbgrader_course.py runs the same
path end to end with real submissions and nbgrader's own commands.
"""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from grader.course import assignment, project_root
from grader.nbgrader_course.course import course_for
from grader.nbgrader_course.exercises import grade_cell_of, points_by_exercise
from grader.nbgrader_course.gradebook import CourseGradebook, read_timestamp
from grader.results import UnitResult
from grader.run import Unit
from grader.unit import collect_tests

ROOT = project_root()
TASK = "vgg"


@pytest.fixture
def course(tmp_path):
    """A course with vgg in its gradebook (due 2026-03-02 14:59 UTC) and one student on the roster."""
    from nbgrader.api import Gradebook

    root = tmp_path / "course"
    (root / "submitted").mkdir(parents=True)
    shutil.copytree(ROOT / "assignments" / TASK, root / "assignments" / TASK)
    (root / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text(encoding="utf-8")
                                             + '\nc.LateSubmissionPlugin.penalty_method = "zero"\n', encoding="utf-8")
    found = course_for(root / "submitted")
    release = nbformat.read(ROOT / "assignments" / TASK / f"{TASK}.ipynb", as_version=4)
    with Gradebook(found.db_url, found.course_id) as gb:
        gb.add_assignment(TASK, duedate="2026-03-02 14:59:00")
        gb.add_notebook(TASK, TASK)
        for cell in release.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                gb.add_grade_cell(meta["grade_id"], TASK, TASK, max_score=meta["points"], cell_type="code")
            if meta.get("solution"):
                gb.add_solution_cell(meta["grade_id"], TASK, TASK)
        gb.add_student("김서연", first_name="서연", last_name="김", email="kim@example.edu")
    return CourseGradebook(found)


def submit(course: CourseGradebook, student: str, stamp: str | None) -> Unit:
    folder = course.course.root / "submitted" / student / TASK
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / TASK / f"{TASK}.ipynb", folder / f"{TASK}.ipynb")
    if stamp is not None:
        (folder / "timestamp.txt").write_text(stamp)
    (folder / "submission_secret.txt").write_text("secret")
    return Unit(student, TASK, folder / f"{TASK}.ipynb")


def result(student: str, failing_exercise: str | None = "vgg", needs_review: bool = False) -> UnitResult:
    tests = []
    for test in collect_tests(assignment(TASK)):
        passed = test.exercise != failing_exercise
        tests.append(replace(test, outcome="passed" if passed else "failed", points=test.max_points if passed else 0,
                             message="" if passed else "expected 138,357,544 parameters, got 0"))
    return UnitResult(student, TASK, max_score=sum(t.max_points for t in tests), tests=tests,
                      needs_review=needs_review)


def export_rows(course: CourseGradebook, tmp_path: Path) -> dict[str, list[str]]:
    course.export_csv(tmp_path / "grades.csv")
    lines = (tmp_path / "grades.csv").read_text(encoding="utf-8").splitlines()[1:]
    return {line.split(",")[3]: line.split(",") for line in lines}


def test_timestamps_are_read_the_nbgrader_way(tmp_path):
    (tmp_path / "timestamp.txt").write_text("2026-03-02 23:30:00.000000 Asia/Seoul\n")
    assert str(read_timestamp(tmp_path)[0]) == "2026-03-02 14:30:00"
    (tmp_path / "timestamp.txt").write_text("2026-03-02 10:00:00 America/New_York")
    assert str(read_timestamp(tmp_path)[0]) == "2026-03-02 15:00:00"
    (tmp_path / "timestamp.txt").write_text("after lunch")
    assert read_timestamp(tmp_path)[0] is None and "unreadable" in read_timestamp(tmp_path)[1]
    (tmp_path / "timestamp.txt").write_text("")
    assert read_timestamp(tmp_path) == (None, "timestamp.txt is empty")
    assert read_timestamp(tmp_path / "missing") == (None, "no timestamp.txt")


def test_auto_scores_per_grade_cell_penalty_flags_and_roster(course, tmp_path):
    from nbgrader.api import Gradebook

    on_time = submit(course, "김서연", "2026-03-02 23:30:00.000000 Asia/Seoul")        # 14:30 UTC
    late = submit(course, "park", "2026-03-02 17:00:00.000000 Europe/Berlin")           # 16:00 UTC: 1 h 01 min late
    unknown_time = submit(course, "lee", "after lunch")
    course.record(on_time, result("김서연"))
    course.record(late, result("park"))
    course.record(unknown_time, result("lee", needs_review=True))
    notes = course.finish([on_time, late, unknown_time], [])
    points = points_by_exercise(TASK)
    with Gradebook(course.course.db_url, course.course.course_id) as gb:
        grades = {g.name: g.auto_score for g in gb.find_submission_notebook(TASK, TASK, "김서연").grades}
        cells = grade_cell_of(nbformat.read(ROOT / "assignments" / TASK / f"{TASK}.ipynb", as_version=4))
        assert grades == {**{cells[e]: (0 if e == "vgg" else p) for e, p in points.items()}, "check_vgg19": 0}
        assert gb.find_student("park").id == "park"  # not on the roster: added
        assert not gb.find_submission_notebook(TASK, TASK, "김서연").flagged
        assert gb.find_submission_notebook(TASK, TASK, "lee").flagged
    assert any("park: submitted vgg but is not on the course's roster" in n for n in notes)
    assert any("lee/vgg: timestamp.txt is unreadable" in n and "not penalised" in n for n in notes)
    rows = export_rows(course, tmp_path)
    # raw 32 − 13 (the vgg exercise failed) = 19; "zero" makes park's penalty the whole score
    assert rows["김서연"][2:] == ["2026-03-02 14:30:00", "김서연", "김", "서연", "kim@example.edu", "19.0", "0.0", "19.0",
                                "32.0"]
    assert rows["park"][7:] == ["19.0", "19.0", "0.0", "32.0"]
    assert rows["lee"][2] == "" and rows["lee"][7:] == ["19.0", "0.0", "19.0", "32.0"]
    autograded = course.course.root / "autograded" / "lee" / TASK
    assert (autograded / "timestamp.txt").read_text() == ""  # release_feedback needs the file; nbgrader: no timestamp
    assert (autograded / "submission_secret.txt").read_text() == "secret"
    nb = nbformat.read(autograded / f"{TASK}.ipynb", as_version=4)
    vgg16 = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "check_vgg16")
    assert vgg16.outputs[0]["text"].startswith("Hidden tests for vgg: 0 / 13 points")
    assert "expected 138,357,544 parameters, got 0" in vgg16.outputs[0]["text"]


def test_manual_scores_survive_and_an_extension_alone_recomputes_the_penalty(course, tmp_path):
    from nbgrader.api import Gradebook

    late = submit(course, "김서연", "2026-03-02 17:00:00.000000 Europe/Berlin")        # 1 h 01 min late
    course.record(late, result("김서연"))
    course.finish([late], [])
    assert export_rows(course, tmp_path)["김서연"][7:10] == ["19.0", "19.0", "0.0"]
    with Gradebook(course.course.db_url, course.course.course_id) as gb:
        gb.find_grade("check_vgg16", TASK, TASK, "김서연").manual_score = 10.0
        gb.find_comment("vgg", TASK, TASK, "김서연").manual_comment = "partial credit: see me"
        gb.db.commit()
        gb.grant_extension(TASK, "김서연", hours=2)
    course.record(late, result("김서연", failing_exercise="conv_params"))  # a changed notebook: auto scores only
    course.finish([late], [])
    with Gradebook(course.course.db_url, course.course.course_id) as gb:
        grade = gb.find_grade("check_vgg16", TASK, TASK, "김서연")
        assert (grade.manual_score, grade.auto_score, grade.needs_manual_grade) == (10.0, 13.0, True)
        assert gb.find_grade("check_conv_params", TASK, TASK, "김서연").auto_score == 0
        assert gb.find_comment("vgg", TASK, TASK, "김서연").manual_comment == "partial credit: see me"
    # 32 − 2 (conv_params) − 13 (vgg's auto score) + 10 (the TA's) = 27; the extension makes it on time
    assert export_rows(course, tmp_path)["김서연"][7:10] == ["27.0", "0.0", "27.0"]
    with Gradebook(course.course.db_url, course.course.course_id) as gb:
        gb.grant_extension(TASK, "김서연", minutes=30)  # shorter: late again, and no notebook changed
    course.finish([late], [])
    assert export_rows(course, tmp_path)["김서연"][7:10] == ["27.0", "27.0", "0.0"]
