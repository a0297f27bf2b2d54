"""Typed results: the JSON they become is exactly the documented format, and the gradebook's form round-trips."""
from __future__ import annotations

import json
import pickle

import pytest

from grader.results import TestOutcome, UnitResult, not_graded, sandbox_mode
from grader.sandbox.modes import SandboxMode


def a_result() -> UnitResult:
    tests = [TestOutcome("test_a", 2, 2, "passed", title="a works", exercise="relu"),
             TestOutcome("test_b", 3, 0, "failed", "expected 5, got 4", exercise="alexnet",
                         confirmed_by=("test_a",))]
    return UnitResult("김서연", "alexnet", 5, tests, cells=[{"cell": "relu", "kind": "solution", "status": "ok",
                                                               "message": "", "notes": []}],
                      problems=["the solution cell 'quiz' is missing"], sandbox_mode=SandboxMode.ROOT,
                      timestamp="2025-01-01 12:00:00 UTC", seconds=0.25)


def test_public_form_is_exactly_the_results_json():
    public = a_result().public()
    assert list(public) == ["student_id", "assignment", "score", "max_score", "status", "needs_review",
                            "review_reasons", "cells", "tests"]
    assert public["score"] == 2 and public["max_score"] == 5
    assert [list(t) for t in public["tests"]] == [["name", "points", "max_points", "outcome", "message"]] * 2
    json.dumps(public)  # plain data only


def test_gradebook_form_round_trips_and_keeps_the_internal_fields():
    result = a_result()
    stored = json.loads(json.dumps(result.to_dict()))
    assert stored["sandbox"] == "full" and stored["sandbox_mode"] == "root"  # the description, as always written
    assert stored["tests"][1]["confirmed_by"] == ["test_a"] and stored["tests"][0]["exercise"] == "relu"
    assert UnitResult.from_dict(stored) == result
    assert pickle.loads(pickle.dumps(result)) == result  # what crosses to and from worker processes


def test_a_row_written_before_the_mode_was_stored_reads_its_mode_from_the_description():
    old = {k: v for k, v in a_result().to_dict().items() if k != "sandbox_mode"}
    old["sandbox"] = SandboxMode.USERNS.description
    assert UnitResult.from_dict(old).sandbox_mode is SandboxMode.USERNS
    old["sandbox"] = "limits only (no root and no user namespaces on this machine)"
    assert UnitResult.from_dict(old).sandbox_mode is None  # unknown words: no guess
    assert sandbox_mode("limits") is SandboxMode.NONE and sandbox_mode("userns") is SandboxMode.USERNS


def test_not_graded_and_flagged_units_say_why():
    tests = [TestOutcome("test_a", 2), TestOutcome("test_b", 3)]
    result = not_graded("s", "vgg", tests, "vgg.ipynb is not valid notebook JSON")
    assert result.score == 0 and result.max_score == 5 and result.status.startswith("not graded: vgg.ipynb")
    assert all(t.outcome == "error" and t.message == "not graded: vgg.ipynb is not valid notebook JSON"
               for t in result.tests)
    assert not result.needs_review
    result.flag("the folder is a symbolic link")
    assert result.needs_review and result.review_reasons == ["the folder is a symbolic link"]


def test_reading_by_json_key_is_read_only_and_limited_to_known_keys():
    result = a_result()
    assert result["score"] == 2 and result["tests"][1]["message"] == "expected 5, got 4"
    assert result.get("seconds") == 0.25 and result.get("nonsense", 7) == 7
    with pytest.raises(KeyError):
        result["nonsense"]
    with pytest.raises(TypeError):
        result["score"] = 5
