"""The profile of a unit (grader.profiling, bench/profile.py) and the run-wide cache keyed by the kit's hash."""
from __future__ import annotations

import json

import pytest

from bench.profile import summarise
from grader import profiling, wire
from grader.checks import cache as result_cache
from grader.checks.cache import ResultCache
from grader.course import assignment
from grader.unit import grade_unit
from tests.conftest import write_submission


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """One solution of vgg graded with GRADER_PROFILE=1: (result, profile)."""
    folder = tmp_path_factory.mktemp("profiled")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(profiling.ENV, "1")
        result = grade_unit(write_submission(folder, "vgg"), "vgg", "student")
    return result, profiling.take()


def test_profile_has_sandbox_start_cells_and_each_test_split(profiled):
    result, profile = profiled
    assert wire.meter is None and profiling.take() is None  # counting stops with the unit; take() hands it out once
    assert profile["assignment"] == "vgg" and profile["forks"] == 1
    assert 0 < profile["sandbox_start_s"] < profile["total_s"]
    assert profile["cells_s"] > 0 and profile["cells_requests"] >= 1
    parts = profile["sandbox_start_s"] + profile["cells_s"] + profile["tests_s"] + profile["pytest_overhead_s"]
    assert parts + profile["other_s"] == pytest.approx(profile["total_s"], rel=0.02)
    assert 0 < profile["prepare_s"] and 0 < profile["finish_s"]
    assert profile["prepare_s"] + profile["finish_s"] <= profile["other_s"] + 0.002  # + loading the reference

    tests = profile["tests"]
    assert {t["test"].split("[")[0] for t in tests} == {t.name for t in result.tests}
    for test in tests:
        assert min(test["trusted_s"], test["sandbox_s"], test["wire_s"]) >= 0
        assert test["trusted_s"] + test["sandbox_s"] + test["wire_s"] == pytest.approx(test["seconds"], abs=1e-6)
        assert 0 <= test["wire_cpu_s"] <= test["wire_s"] + 1e-4  # CPU time within the wire's wall time
    talking = [t for t in tests if t["requests"]]
    assert talking and all(t["bytes_sent"] > 0 and t["bytes_received"] > 0 for t in talking)
    assert all(t["sandbox_s"] > 0 and t["wire_s"] > 0 and t["wire_cpu_s"] > 0 for t in talking)
    assert any(t["bytes_sent"] > 100_000 for t in tests)  # weights loaded into the student's model travel
    for test in tests:  # the child's work for a test's requests is done within their round trips
        assert min(test["child_code_cpu_s"], test["child_describe_cpu_s"], test["child_wire_cpu_s"]) >= 0
        # (the wait, and the wire's wall time too: on busy cores the child may run before the send returns)
        assert test["child_code_cpu_s"] + test["child_describe_cpu_s"] <= test["sandbox_s"] + test["wire_s"] + 1e-3
    assert all(t["child_wire_cpu_s"] > 0 for t in talking)
    assert sum(t["child_code_cpu_s"] for t in tests) > 0.01 and sum(t["child_describe_cpu_s"] for t in tests) > 0
    assert profile["child_code_cpu_s"] >= sum(t["child_code_cpu_s"] for t in tests)  # + the cells'
    assert profile["child_code_cpu_s"] > sum(t["child_code_cpu_s"] for t in tests)
    assert 0 < profile["trusted_cpu_s"] < profile["total_s"] * 2
    assert "profile" not in json.dumps(result.public()) and "profile" not in json.dumps(result.to_dict())


def test_profile_summary_per_assignment_and_slowest_ten(profiled):
    _, profile = profiled
    summary = summarise([profile, profile])
    row = summary["assignments"]["vgg"]
    assert row["units"] == 2 and row["test_count"] == len({t["test"] for t in profile["tests"]})
    assert set(row["tests"]) == {"trusted_s", "sandbox_s", "wire_s", "wire_cpu_s", "bytes_sent", "bytes_received",
                                 "requests"}
    for key in ("trusted_cpu_s", "child_code_cpu_s", "child_describe_cpu_s", "child_wire_cpu_s"):
        assert row[key] == profile[key]  # the median of two equal units
    slowest = summary["slowest"]
    assert len(slowest) == min(10, row["test_count"])
    assert [t["seconds"] for t in slowest] == sorted((t["seconds"] for t in slowest), reverse=True)
    assert slowest[0]["seconds"] == max(t["seconds"] for t in profile["tests"])


def test_unprofiled_unit_leaves_no_profile(profiled, tmp_path, monkeypatch):
    monkeypatch.delenv(profiling.ENV, raising=False)
    grade_unit(write_submission(tmp_path, "vgg", {"conv_params": "def conv_params(*args, **kwargs):\n"
                                                                  "    return 0\n"}), "vgg", "student")
    assert profiling.take() is None and wire.meter is None


def test_grading_keys_the_run_wide_cache_by_the_assignments_hash(profiled):
    assert result_cache.current_kit() == assignment("vgg").tests_hash()


def test_run_wide_results_are_dropped_when_the_kit_hash_changes(monkeypatch):
    monkeypatch.setattr(result_cache, "_kit", None)
    cache, builds = ResultCache(), []

    def build():
        builds.append(result_cache.current_kit())
        return len(builds)

    result_cache.use_kit("kit-a")
    assert cache.once("reference output", build) == 1
    assert cache.once("reference output", build) == 1  # computed once per worker for the same kit
    result_cache.use_kit("kit-b")  # a changed solution or hidden test
    assert cache.once("reference output", build) == 2
    result_cache.use_kit("kit-a")
    assert cache.once("reference output", build) == 3  # only the current kit's values are kept
    assert builds == ["kit-a", "kit-b", "kit-a"]


BUSY_CELL = "import time\nuntil = time.thread_time() + 0.05\nwhile time.thread_time() < until:\n    pass\n"


def test_child_reports_its_cpu_only_to_a_metered_request(profiled):
    """An answer carries the child's CPU split ([the request's work, the wire]) only when the request asks."""
    from grader.unit import zygote

    child = zygote().fork({"hide": [], "cuda": False})
    try:
        plain = {"op": wire.Op.RUN_CELL.value, "label": "busy", "source": BUSY_CELL, "timeout": 10}
        wire.send(child.sock, plain)
        assert "cpu" not in wire.recv_trusted(child.sock, deadline=None)
        for _ in range(2):  # the second also reports sending the first's answer
            wire.send(child.sock, {**plain, "meter": True})
            work, wire_cpu = wire.recv_trusted(child.sock, deadline=None)["cpu"]
            assert 0.05 <= work < 1.0 and 0 < wire_cpu < 0.05
    finally:
        child.close()


def test_meter_counts_only_well_formed_child_reports():
    meter = wire.Meter()
    for bad in (None, [0.1], [0.1, 0.2, 0.3], [-0.1, 0.1], [0.1, float("nan")], [1e9, 0.1], [True, 0.1], [1, 0.1],
                "0.1,0.1", {"work": 0.1}):
        meter.add_child_cpu(wire.Op.CALL, bad)
    assert (meter.child_code_cpu_s, meter.child_describe_cpu_s, meter.child_wire_cpu_s) == (0, 0, 0)
    meter.add_child_cpu(wire.Op.CALL, [0.25, 0.5])
    meter.add_child_cpu(wire.Op.DESCRIBE.value, [0.125, 0.25])  # the op as it travels: its string
    assert (meter.child_code_cpu_s, meter.child_describe_cpu_s, meter.child_wire_cpu_s) == (0.25, 0.125, 0.75)
