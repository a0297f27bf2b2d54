"""Grading on Dask (grader/backends/dask.py): the same grades as the local pool, and faults that lose nothing.

Real clusters only: LocalClusters of worker processes, a worker started from a
modified copy of the kit, a worker killed with SIGKILL while it grades.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import dask
import pytest
from distributed import Client, LocalCluster
from rich.console import Console

from conftest import solution_notebook, write_submission
from grader.backends.dask import ALLOWED_FAILURES, DaskBackend, grade_task
from grader.backends.kit import KitHash, _hash_tree, kit_hash
from grader.course import project_root
from grader.gradebook import FINAL_NOTE, Gradebook
from grader.run import GradeRun

ROOT = project_root()
EXAMPLES = ROOT / "examples" / "submissions"
EXPECTED = json.loads((ROOT / "examples" / "expected_scores.json").read_text(encoding="utf-8"))
TIMINGS = ("seconds",)

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers run this module's task wrappers


def _run(out: Path, **kwargs) -> tuple[list[dict], str]:
    console = Console(file=io.StringIO(), width=200)
    results = GradeRun(kwargs.pop("submissions", EXAMPLES), out, console=console, **kwargs).run()
    return results, console.file.getvalue()


@pytest.fixture(scope="module")
def local_pool(tmp_path_factory):
    out = tmp_path_factory.mktemp("pool")
    return out, _run(out, workers=2)[0]


@pytest.fixture(scope="module")
def local_cluster_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dask")
    results, log = _run(out, cluster="local:2")
    return out, results, log


def test_a_local_cluster_grades_the_examples_as_the_local_pool_does(local_pool, local_cluster_run):
    pool_out, pool = local_pool
    dask_out, on_dask, log = local_cluster_run
    assert log.count("admitted: kit") == 2, log  # two worker processes, each admitted with its sandbox
    got = {f"{r['student_id']}/{r['assignment']}": [r["score"], r["max_score"]] for r in on_dask}
    assert got == {key: value[:2] for key, value in EXPECTED.items()}

    def comparable(result) -> dict:
        return {k: v for k, v in result.to_dict().items() if k not in TIMINGS}

    assert [comparable(r) for r in on_dask] == [comparable(r) for r in pool]  # outcomes, messages, cells, ...
    for name in ("results", "feedback"):
        pool_files = sorted(p.relative_to(pool_out) for p in (pool_out / name).rglob("*") if p.is_file())
        dask_files = sorted(p.relative_to(dask_out) for p in (dask_out / name).rglob("*") if p.is_file())
        assert dask_files == pool_files and pool_files
        for relative in pool_files:
            assert (dask_out / relative).read_bytes() == (pool_out / relative).read_bytes(), relative
    assert (dask_out / "grades.csv").read_bytes() == (pool_out / "grades.csv").read_bytes()


def test_the_run_shows_progress_without_a_terminal(local_cluster_run):
    _, results, log = local_cluster_run
    lines = [line for line in log.splitlines() if line.startswith("grading: ")]
    assert len(lines) == 10 and lines[-1].startswith(f"grading: {len(results)}/{len(results)} (100%)"), lines
    assert all("units/s, ETA" in line for line in lines)


# -- faults, on one LocalCluster shared by the tests below -------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                             memory_limit=0)
    client = Client(local)
    yield local, client
    client.close()
    local.close()


class CountingRun(GradeRun):
    """A run that counts how often each unit is recorded."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded: list[tuple[str, str]] = []

    def _record(self, book, unit, result, hashes) -> None:
        self.recorded.append((unit.student_id, unit.assignment))
        super()._record(book, unit, result, hashes)


def _wait_for_workers(client: Client, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info(n_workers=-1)["workers"]) < count:
        assert time.monotonic() < deadline, f"fewer than {count} workers after {timeout} s"
        time.sleep(0.2)


def test_a_worker_killed_mid_unit_loses_nothing_and_records_nothing_twice(cluster, tmp_path):
    local, client = cluster
    _wait_for_workers(client, 2)
    slow = solution_notebook("vgg")
    setup = next(c for c in slow.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup")
    setup.source += "\nimport time\ntime.sleep(6)  # a unit made to block\n"
    submissions = tmp_path / "submitted"
    write_submission(submissions, "vgg", student="a_blocks", base=slow)  # first in the run: key grade-<run>-0
    write_submission(submissions, "vgg", student="b_full")
    write_submission(submissions, "vgg", student="c_full")
    killed: list[int] = []

    def kill_the_worker_grading_the_blocking_unit() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            for worker, keys in client.processing().items():
                if any(str(key).startswith("grade-") and str(key).endswith("-0") for key in keys):
                    time.sleep(2)  # well inside the unit's 6 s sleep
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_worker_grading_the_blocking_unit, daemon=True)
    killer.start()
    out = tmp_path / "grades"
    run = CountingRun(submissions, out, cluster=local.scheduler_address, console=Console(file=io.StringIO()))
    results = run.run()
    killer.join(timeout=5)
    assert killed, "the blocking unit was never seen processing"
    assert sorted(run.recorded) == [("a_blocks", "vgg"), ("b_full", "vgg"), ("c_full", "vgg")]
    assert [(r["student_id"], r["score"], r["max_score"], r["status"]) for r in results] == [
        (student, 32, 32, "graded") for student in ("a_blocks", "b_full", "c_full")]
    with sqlite3.connect(out / "gradebook.db") as db:
        assert db.execute("SELECT COUNT(*) FROM results").fetchone() == (3,)


def crash_for_crasher(name, data, assignment_id, student_id, settings):
    """A unit that takes its worker process down every time (as a grader bug or a hardware fault could)."""
    if student_id == "crasher":
        os.kill(os.getpid(), signal.SIGKILL)
    return grade_task(name, data, assignment_id, student_id, settings)


def test_a_unit_that_crashes_every_worker_ends_as_a_grader_failure_and_the_run_finishes(cluster, tmp_path):
    local, client = cluster
    _wait_for_workers(client, 2)
    submissions = tmp_path / "submitted"
    write_submission(submissions, "vgg", student="crasher")
    write_submission(submissions, "vgg", student="honest")
    out = tmp_path / "grades"
    backend = DaskBackend(local.scheduler_address, Console(file=io.StringIO()), task=crash_for_crasher)
    run = CountingRun(submissions, out, cluster=local.scheduler_address, console=Console(file=io.StringIO()))
    import grader.run as run_module

    original = run_module.make_backend
    run_module.make_backend = lambda cluster, workers, console: backend
    try:
        results = run.run()
    finally:
        run_module.make_backend = original
    by_student = {r["student_id"]: r for r in results}
    assert sorted(run.recorded) == [("crasher", "vgg"), ("honest", "vgg")]
    assert by_student["honest"]["score"] == 32
    failed = by_student["crasher"]
    assert failed["grader_failure"] and failed["score"] == 0 and failed["grader_failures"] == 1
    assert "crasher/vgg took down 2 grader workers" in failed["status"], failed["status"]
    assert "KilledWorker" in failed["status"] and "the next run grades it again" in failed["status"]
    public = json.loads((out / "results" / "crasher" / "vgg.json").read_text(encoding="utf-8"))
    assert public["status"] == failed["status"]


def test_a_grader_failure_is_retried_by_one_later_run_not_forever(tmp_path):
    from grader.run import Unit, _grader_failure

    path = write_submission(tmp_path / "s", "vgg", student="s")
    book = Gradebook(tmp_path / "gradebook.db")
    first = _grader_failure(Unit("s", "vgg", path), "s/vgg took down 2 grader workers in a row (Dask KilledWorker)")
    book.save(first, "sub", "tests")
    assert not book.is_current("s", "vgg", "sub", "tests")  # the next run grades it again
    second = _grader_failure(Unit("s", "vgg", path), "s/vgg took down 2 grader workers in a row (Dask KilledWorker)")
    book.save(second, "sub", "tests")
    assert second["grader_failures"] == 2 and FINAL_NOTE in second["status"]
    assert all(FINAL_NOTE in t["message"] for t in second["tests"])
    assert book.is_current("s", "vgg", "sub", "tests")  # not forever
    assert not book.is_current("s", "vgg", "changed-submission", "tests")
    book.save(_grader_failure(Unit("s", "vgg", path), "again"), "changed-submission", "tests")
    assert not book.is_current("s", "vgg", "changed-submission", "tests")  # a new submission starts a new count


def test_a_worker_started_from_a_modified_copy_of_the_kit_is_refused(cluster, tmp_path):
    local, client = cluster
    _wait_for_workers(client, 2)
    copy = tmp_path / "kit-copy"
    for part in ("grader", "autograde_tests", "solutions"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "autograde_tests" / "test_vgg.py", "a", encoding="utf-8") as handle:
        handle.write("\n\n@pytest.mark.points(100)\ndef test_a_bonus_only_this_copy_gives(student):\n    pass\n")
    env = {**os.environ, "PYTHONPATH": str(copy), "CNN_KIT_ROOT": str(copy)}
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", local.scheduler_address,
                               "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", "modified-copy"],
                              cwd=copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_workers(client, 3)
        bad = next(a for a, w in client.scheduler_info(n_workers=-1)["workers"].items() if w["name"] == "modified-copy")
        submissions = tmp_path / "submitted"
        for student in ("a", "b", "c"):
            write_submission(submissions, "vgg", student=student)
        results, log = _run(tmp_path / "grades", submissions=submissions, cluster=local.scheduler_address)
        ours = kit_hash()
        theirs = KitHash({**ours.parts, "autograde_tests": _hash_tree(copy / "autograde_tests")})
        assert theirs.digest != ours.digest
        refusal = next(line for line in log.splitlines() if line.startswith("refused:"))
        assert bad in refusal and theirs.digest in refusal and ours.digest in refusal, refusal
        assert "autograde_tests" in refusal
        assert [(r["score"], r["max_score"]) for r in results] == [(32, 32)] * 3  # never the copy's 132
        assert log.count("admitted: kit") == 2
        resources = client.run(lambda dask_worker: dict(dask_worker.state.total_resources), workers=[bad])
        assert not any(v for v in resources[bad].values()), resources  # it never held the kit's resource
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_progress_is_a_bar_on_a_terminal_and_a_line_per_tenth_in_a_log():
    from grader.progress import RunProgress

    log = Console(file=io.StringIO(), force_terminal=False, width=120)
    with RunProgress(log, 25) as progress:
        for _ in range(25):
            progress.advance()
    lines = log.file.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        f"grading: {done}/25" for done in (3, 5, 8, 10, 13, 15, 18, 20, 23, 25)]
    terminal = Console(file=io.StringIO(), force_terminal=True, width=120)
    with RunProgress(terminal, 4) as progress:
        for _ in range(4):
            progress.advance()
    shown = terminal.file.getvalue()
    assert "4/4" in shown and "units/s" in shown and "ETA" in shown and "grading: " not in shown


def test_admission_policy_sandbox_and_transport():
    """The rules the plugin and the coordinator both apply (refusal is pure: no cluster needed)."""
    from grader.backends.dask import Admission, refusal

    ours = kit_hash().parts
    auto, root_only = Admission(ours, "auto"), Admission(ours, "root")
    report = {"kit": ours, "mode": "root", "error": None}
    assert refusal(auto, "tcp://127.0.0.1:4000", report) is None
    assert refusal(auto, "tcp://127.0.0.1:4000", {**report, "mode": "limits"}) is None  # one machine: allowed
    assert "asked for 'root'" in refusal(root_only, "tcp://127.0.0.1:4000", {**report, "mode": "userns"})
    assert "cannot build the sandbox" in refusal(root_only, "tcp://127.0.0.1:4000",
                                                 {**report, "mode": None, "error": "IsolationError: no root"})
    assert "not reached over tls://" in refusal(auto, "tcp://10.1.2.3:4000", report)
    assert refusal(auto, "tls://10.1.2.3:4000", report) is None
    for open_mode in ("limits", "none"):
        assert "leaves the network open" in refusal(auto, "tls://10.1.2.3:4000", {**report, "mode": open_mode})
