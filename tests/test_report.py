"""The class report: what the counts say, and that the pages are written, linked and self-contained."""
from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from grader.course import assignment
from grader.notebook import read_cells
from grader.report import write_report
from grader.report.data import class_stats, lateness
from grader.similarity.fingerprints import fingerprint_source, release_stubs

DATA = Path(__file__).parent / "data" / "independent"


def _test(name: str, passed: bool, message: str = "", points: int = 2) -> dict:
    return {"name": name, "title": f"title of {name}", "points": points if passed else 0, "max_points": points,
            "outcome": "passed" if passed else "failed", "message": message}


def _result(student: str, task: str, tests: list[dict], **extra) -> dict:
    return {"student_id": student, "assignment": task, "score": sum(t["points"] for t in tests),
            "max_score": sum(t["max_points"] for t in tests), "status": "graded", "needs_review": False,
            "review_reasons": [], "cells": [], "problems": [], "tests": tests, "seconds": 0.5, **extra}


CAUSE = "count 1 ≠ 2.\nLikely cause: biases counted (bias=False in the lecture)"


def _class() -> list[dict]:
    return [
        _result("ann", "vgg", [_test("test_a", True), _test("test_b", False, CAUSE), _test("test_c", False, CAUSE)],
                timestamp="2025-01-02 10:00:00 UTC", duedate="2025-01-01 12:00:00 UTC", seconds=2.0),
        _result("ben", "vgg", [_test("test_a", True), _test("test_b", True), _test("test_c", False, "plain")],
                timestamp="2025-01-01 11:00:00 UTC", duedate="2025-01-01 12:00:00 UTC"),
        _result("김서연", "vgg", [_test("test_a", False, "x"), _test("test_b", False, CAUSE), _test("test_c", True)],
                needs_review=True, review_reasons=["patches builtins"], late=True),
        _result("ann", "alexnet", [_test("test_z", True)]),
        _result("dora", "alexnet", [_test("test_z", False, "not graded: bad JSON")], status="not graded: bad JSON"),
    ]


def test_pass_rates_causes_review_missing_and_late():
    stats, rows = class_stats(_class(), ["alexnet", "vgg"], roster=["ann", "ben", "dora", "eve", "김서연"])
    vgg = next(a for a in stats if a.id == "vgg")
    assert [t.name for t in vgg.tests] == ["test_b", "test_c", "test_a"]  # lowest pass rate first, then by name
    assert [round(t.pass_rate, 2) for t in vgg.tests] == [0.33, 0.33, 0.67]
    assert [f.student for f in vgg.tests[0].failures] == ["ann", "김서연"]
    # counted once per student although ann's two failed tests both name it
    assert [(c.text, c.students, c.tests) for c in vgg.causes] == [
        ("biases counted (bias=False in the lecture)", 2, ["test_b", "test_c"])]
    assert vgg.review == [("김서연", ["patches builtins"])]
    assert vgg.missing == ["dora", "eve"]
    assert [(late.student, late.by) for late in vgg.late] == [("ann", "22 h 0 min"), ("김서연", "")]
    assert vgg.due_known == 2 and vgg.seconds[0] == (2.0, "ann")
    alexnet = next(a for a in stats if a.id == "alexnet")
    assert alexnet.not_graded == [("dora", "not graded: bad JSON")]
    assert alexnet.missing == ["ben", "eve", "김서연"]
    assert [r.id for r in rows] == ["ann", "ben", "dora", "eve", "김서연"]
    assert next(r for r in rows if r.id == "eve").results == {}


def test_lateness_needs_a_due_date_or_the_flag():
    assert lateness({"student_id": "a", "timestamp": "2025-01-01 13:00:00 UTC"}) is None
    assert lateness({"student_id": "a", "timestamp": "2025-01-01 11:00:00", "duedate": "2025-01-01T12:00:00Z"}) is None
    late = lateness({"student_id": "a", "timestamp": "2025-01-03 13:30:00 UTC", "duedate": "2025-01-01 12:00:00 UTC"})
    assert late is not None and late.by == "2 d 1 h 30 min"
    assert lateness({"student_id": "a", "timestamp": "garbage", "duedate": "also garbage"}) is None


def _with_fingerprints(result: dict, folder: Path) -> dict:
    task = result["assignment"]
    stubs = release_stubs(assignment(task).release_notebook)
    cells = {p.stem: p.read_text(encoding="utf-8") for p in folder.glob("*.py")}
    return {**result, "fingerprints": {"cells": {g: fingerprint_source(s, stubs.get(g, "")) for g, s in cells.items()}}}


def test_the_report_pages(tmp_path):
    results = _class()
    results[0] = _with_fingerprints(results[0], DATA / "disguised" / "vgg")
    results[1] = _with_fingerprints(results[1], DATA / "vgg")
    # the instructor's solution itself, submitted by 김서연: the disguised copy of ann pairs with it
    solution = {c.grade_id: c.source for c in read_cells(assignment("vgg").source_notebook) if c.kind == "solution"}
    stubs = release_stubs(assignment("vgg").release_notebook)
    results[2] = {**results[2], "fingerprints": {"cells": {g: fingerprint_source(s, stubs.get(g, ""))
                                                           for g, s in solution.items()}}}
    summary = write_report(tmp_path, results, ["stray.txt: not an assignment"], roster=["eve"])
    assert summary.students == 5 and summary.flagged_pairs >= 4 and summary.candidate_pairs >= summary.flagged_pairs

    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3  # two histograms and the grading times
    assert "<script" not in page and not re.search(r"""(src|href)=["']https?:""", page)
    assert "<text" in page  # svg.fonttype 'none': labels stay text
    assert "stray.txt: not an assignment" in page and "patches builtins" in page
    for student in ("ann", "ben", "dora", "eve", "김서연"):
        assert f'href="report/students/{urllib.parse.quote(student)}.html"' in page
        assert (tmp_path / "report" / "students" / f"{student}.html").is_file()
    student_page = (tmp_path / "report" / "students" / "김서연.html").read_text(encoding="utf-8")
    assert f'../../feedback/{urllib.parse.quote("김서연")}/vgg.html' in student_page
    assert "not submitted" in student_page  # alexnet
    assert 'href="ann.html"' in student_page and 'href="../pairs/' in student_page  # 김서연's pairs with ann

    vgg = (tmp_path / "report" / "vgg.html").read_text(encoding="utf-8")
    assert vgg.index('id="test_b"') < vgg.index('id="test_a"')  # lowest pass rate first
    assert "biases counted (bias=False in the lecture)" in vgg and "22 h 0 min" in vgg
    assert 'href="../feedback/ann/vgg.html"' in vgg

    similarity = (tmp_path / "report" / "similarity.html").read_text(encoding="utf-8")
    assert "ann" in similarity and "김서연" in similarity
    pair_pages = sorted((tmp_path / "report" / "pairs").glob("*.html"))
    assert pair_pages
    flagged = [p for p in pair_pages if "-vgg-vgg.html" in p.name]
    text = flagged[0].read_text(encoding="utf-8")
    assert 'class="line m1"' in text and 'class="line stub"' in text
    assert "ben" not in text.split("<h1>")[1].split("</h1>")[0]  # the independent solution is not in the top pair


def test_make_grade_writes_the_report_and_prints_the_candidate_pairs(tmp_path, capsys):
    """grader.outputs.write_summary (the end of every make grade) writes the report and says what the index found."""
    from grader.outputs import write_summary

    results = [_with_fingerprints(_result(name, "vgg", [_test("test_a", True)]), DATA / "vgg") for name in ("p", "q")]
    write_summary(tmp_path, results, [])
    err = " ".join(capsys.readouterr().err.split())
    found = re.search(r"the index produced (\d+) candidate pairs, (\d+) over the threshold", err)
    assert found, err
    candidates, flagged = int(found[1]), int(found[2])
    assert candidates >= flagged >= 3  # p and q hand in the same code: every exercise of a few lines pairs
    assert (tmp_path / "summary.html").is_file() and (tmp_path / "report" / "similarity.html").is_file()
    assert list((tmp_path / "report" / "pairs").glob("*-vgg-*.html"))
