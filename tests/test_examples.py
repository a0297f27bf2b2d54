"""`make grade` on the bundled class: every example gets the score the README states.

Its outputs are as docs/results-format.md says.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from grader.course import project_root
from grader.outputs import CSV_COLUMNS

ROOT = project_root()
EXPECTED = json.loads((ROOT / "examples" / "expected_scores.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graded(graded_examples) -> tuple[Path, list[dict]]:
    return graded_examples  # conftest: graded once per session, shared with tests/test_dask.py


def test_every_example_gets_the_documented_score(graded):
    _, results = graded
    got = {f"{r['student_id']}/{r['assignment']}": [r["score"], r["max_score"]] for r in results}
    assert got == {key: value[:2] for key, value in EXPECTED.items()}


def test_examples_show_what_they_are_meant_to_show(graded):
    _, results = graded
    by_unit = {(r["student_id"], r["assignment"]): r for r in results}
    assert "not valid notebook JSON" in by_unit[("dana", "alexnet")]["status"]
    assert any("SyntaxError" in c["message"] for c in by_unit[("dana", "vgg")]["cells"])
    assert any(c["status"] in ("timeout", "crashed") for c in by_unit[("dana", "densenet")]["cells"])
    assert any("should be in a folder frank/vgg/" in p for p in by_unit[("frank", "vgg")]["problems"])
    assert by_unit[("mallory", "alexnet")]["needs_review"]
    assert not any(r["needs_review"] for key, r in by_unit.items() if key[0] != "mallory")
    messages = " ".join(t["message"] for t in by_unit[("chris", "vgg")]["tests"])
    assert "bias" in messages


def test_outputs_follow_the_design(graded):
    out, results = graded
    with open(out / "grades.csv", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == len(results) == len(EXPECTED)
    for r in results:
        data = json.loads((out / "results" / r["student_id"] / f"{r['assignment']}.json").read_text("utf-8"))
        assert set(data) == {"student_id", "assignment", "score", "max_score", "status", "needs_review",
                             "review_reasons", "cells", "tests"}
        assert all(set(t) == {"name", "points", "max_points", "outcome", "message"} for t in data["tests"])
        page = (out / "feedback" / r["student_id"] / f"{r['assignment']}.html").read_text("utf-8")
        assert r["student_id"] in page and "Score:" in page
    assert "김서연" in (out / "summary.html").read_text("utf-8")


def test_feedback_never_shows_hidden_test_or_reference_code(graded):
    out, _ = graded
    secrets = set()
    for path in list((ROOT / "autograde_tests").glob("test_*.py")):
        secrets.update(line.strip() for line in path.read_text().splitlines() if len(line.strip()) > 30
                       and not line.strip().startswith(("#", '"""')) and "hint=" not in line)
    for page in (out / "feedback").rglob("*.html"):
        text = page.read_text("utf-8")
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"{page}: {leaked[:3]}"
