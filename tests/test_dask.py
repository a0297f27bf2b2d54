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

from bench.cluster import stop_processes
from conftest import solution_notebook, write_submission
from grader.backends.dask import ALLOWED_FAILURES, DaskBackend, grade_task
from grader.backends.kit import KitHash, _hash_tree, kit_hash
from grader.course import project_root
from grader.gradebook import FINAL_NOTE, Gradebook
from grader.outputs import render_feedback
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
def local_pool(graded_examples):
    return graded_examples  # conftest: the examples graded once per session by the local pool, 2 workers


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
    for result in on_dask:  # each page was rendered by the worker that graded it, as the coordinator renders it
        page = dask_out / "feedback" / result.student_id / f"{result.assignment}.html"
        assert page.read_text(encoding="utf-8") == render_feedback(result), page


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


def test_a_grading_worker_is_quietened_while_it_grades_and_given_back_as_it_was(cluster):
    """Dask's sampling profiler (100 stack samples a second) and its 20 ms tick wake the worker's event loop, which
    takes the GIL from the grading thread: paused and slowed while the kit's plugin is on a worker, as they were
    once the plugin leaves a standing cluster."""
    from grader.backends.dask import PAUSED_CALLBACKS, PLUGIN_NAME, TICK_INTERVAL_MS, Admission, KitPlugin

    local, client = cluster
    _wait_for_workers(client, 2)

    def event_loop(dask_worker) -> tuple:
        callbacks = dask_worker.periodic_callbacks
        return tuple(callbacks[name].is_running() for name in PAUSED_CALLBACKS), callbacks["tick"].callback_time

    dask_default = ((True, True), 20)
    assert list(client.run(event_loop).values()) == [dask_default] * 2
    client.register_plugin(KitPlugin(Admission(kit_hash().parts)), name=PLUGIN_NAME)
    try:
        assert list(client.run(event_loop).values()) == [((False, False), TICK_INTERVAL_MS)] * 2
    finally:
        client.unregister_worker_plugin(PLUGIN_NAME)
    assert list(client.run(event_loop).values()) == [dask_default] * 2


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


# Last of the tests on the shared cluster: it kills both workers on purpose, and a test after it would
# depend on their nannies bringing them back (once, in a full `make test`, one did not within 120 s).
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


# -- beyond one machine: TLS with mutual authentication, certificates made by the README's own commands -------------

def _readme_certificate_commands() -> str:
    """The shell block of the README's 'Beyond one machine' section that makes the CA and the certificates."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    first = lines.index("mkdir -p tls && cd tls")
    last = next(i for i in range(first, len(lines)) if lines[i].startswith("chmod 600"))
    return "\n".join(lines[first:last + 1])


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("certificates")
    subprocess.run(["bash", "-euo", "pipefail", "-c", _readme_certificate_commands()], cwd=folder, check=True,
                   capture_output=True, timeout=300)
    return folder / "tls"


def _tls_env(tls: Path) -> dict[str, str]:
    """The coordinator's certificates, as the README sets them (dask reads its configuration from these)."""
    return {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(tls / "ca.pem"),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(tls / "client.pem"),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(tls / "client.key")}


@pytest.fixture(scope="module")
def tls_cluster(certificates, tmp_path_factory):
    """``dask scheduler --protocol tls`` and one ``dask worker``, with the README's options and certificates."""
    from distributed.security import Security

    tls, folder = certificates, tmp_path_factory.mktemp("tls-cluster")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    scheduler_file = folder / "scheduler.json"
    processes = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--protocol", "tls", "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file), "--tls-ca-file", str(tls / "ca.pem"),
         "--tls-cert", str(tls / "scheduler.pem"), "--tls-key", str(tls / "scheduler.key")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists():
            assert time.monotonic() < deadline and processes[0].poll() is None, "the TLS scheduler did not start"
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://127.0.0.1:"), address
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1",
             "--memory-limit", "0", "--no-dashboard", "--tls-ca-file", str(tls / "ca.pem"),
             "--tls-cert", str(tls / "worker.pem"), "--tls-key", str(tls / "worker.key")],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        security = Security(tls_ca_file=str(tls / "ca.pem"), tls_client_cert=str(tls / "client.pem"),
                            tls_client_key=str(tls / "client.key"), require_encryption=True)
        with Client(address, security=security, timeout=60) as client:
            client.wait_for_workers(1, timeout=180)
        yield address
    finally:
        stop_processes(processes)  # bench/cluster.py: SIGTERM, workers first; SIGKILL after 30 s


def _grade_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "grade", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=600)


def test_a_tls_cluster_with_certificates_grades_as_the_local_pool_does(certificates, tls_cluster, local_pool, tmp_path):
    pool_out, _ = local_pool
    submissions, out = tmp_path / "submitted", tmp_path / "grades"
    units = [("alice", "vgg"), ("bob", "vgg")]  # every exercise right; the release submitted untouched
    for student, task in units:
        shutil.copytree(EXAMPLES / student / task, submissions / student / task)
    done = _grade_cli(str(submissions), "--out", str(out), "--cluster", tls_cluster, env=_tls_env(certificates))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("admitted: kit") == 1 and "refused" not in done.stderr, done.stderr[-3000:]
    for student, task in units:
        for relative in (f"results/{student}/{task}.json", f"feedback/{student}/{task}.html"):
            assert (out / relative).read_bytes() == (pool_out / relative).read_bytes(), relative
    book = Gradebook(out / "gradebook.db")
    scores = [(r["student_id"], r["score"], r["max_score"]) for r in book.results()]
    book.close()
    assert scores == [(student, *EXPECTED[f"{student}/{task}"][:2]) for student, task in units]


def test_a_tls_cluster_refuses_whoever_has_no_certificate_of_the_course(certificates, tls_cluster, tmp_path):
    import socket
    import ssl
    from urllib.parse import urlsplit

    from distributed.security import Security

    host, port = urlsplit(tls_cluster).hostname, urlsplit(tls_cluster).port
    # A TLS client that trusts the course's CA but shows no certificate: the scheduler ends the handshake.
    context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    context.check_hostname = False
    with socket.create_connection((host, port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError, match="(?i)certificate"):
            with context.wrap_socket(raw) as tls_socket:
                tls_socket.recv(1)  # TLS 1.3: the server's verdict on the client arrives after the handshake
    # A certificate of its own, not signed by the course's CA: refused too.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=intruder",
                    "-keyout", "intruder.key", "-out", "intruder.pem"], cwd=tmp_path, check=True, capture_output=True)
    intruder = Security(tls_ca_file=str(certificates / "ca.pem"), tls_client_cert=str(tmp_path / "intruder.pem"),
                        tls_client_key=str(tmp_path / "intruder.key"), require_encryption=True)
    with pytest.raises(OSError):  # TimeoutError included: the handshake never completes
        Client(tls_cluster, security=intruder, timeout=10)
    with pytest.raises(OSError):  # nor does plain tcp:// reach a TLS scheduler
        Client(tls_cluster.replace("tls://", "tcp://"), timeout=10)
    # The grader itself, asked for a tls:// cluster without the certificates' settings, stops before grading.
    write_submission(tmp_path / "submitted", "vgg", student="a")
    done = _grade_cli(str(tmp_path / "submitted"), "--out", str(tmp_path / "grades"), "--cluster", tls_cluster, env={})
    assert done.returncode == 2 and "tls:// needs a CA and a client certificate" in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "grades" / "results").exists()
