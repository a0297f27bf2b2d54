"""``python -m bench.cluster`` (also printed by ``make bench``): what grading on Dask costs, and what the coordinator
can take.

1. The same class (the bundled examples, ``--copies`` times over: 81 units by
   default) graded ``force=True`` by the local process pool and by a
   ``LocalCluster`` with the same number of worker processes, ``--repeat``
   times each, alternating. Dask's overhead per unit compares the steady
   state of both: the time from the first unit handed to the recorder to the
   last, over the units in between, so neither the pool's nor the cluster's
   start-up (measured and shown apart) enters it; the median run of each
   counts, and every run is printed, so the noise is visible beside the 10%
   target. The bundled class has one 10-second endless loop among its 27
   units: graded once, where it lands in the schedule moves a 2-worker run by
   more than the 10% to be measured; three copies dilute that.
2. The coordinator's capacity (``--capacity-only``: this part alone, about a
   minute): units recorded per second (target ≥ 500/s: a hundred workers at
   0.29 s per unit deliver about 340/s), each recorded exactly as in a real run
   (gradebook row, result JSON, feedback page, log line), until the last one is
   committed. The class is shaped like a real one, students × the five
   assignments (400 × 5 for 2,000 units), so a student's folders exist after
   their first unit, as in a real run. First the coordinator alone (ready results handed to
   ``GradeRun._record``), then a trivial unit (a worker returns a ready-made
   result at once) through a scheduler and workers in processes of their own,
   with many units in flight so that the coordinator, not the round trip to two
   local workers, is what is measured. Today's recorder (grader/recorder.py)
   and the previous recording (``PreviousRecorder``) alternate, side by side,
   beside the figures documented for the previous commit.
3. On paper: a 2,000 × 5 class on N workers, from the measured time per unit.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import io
import json
import shutil
import statistics
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from functools import partial
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"overhead_pct": 10.0, "capacity_units_per_s": 500.0}
CLASS = (2000, 5)  # students × assignments, for the estimate on paper


DROP_CACHES = False  # --drop-caches


def settle_disk() -> None:
    """Before a timed run: the earlier runs' files reach the disk (their writeback would slow this run's file
    creation); with ``--drop-caches`` (root), the kernel's cached inodes and pages are dropped too. On some
    virtual machines creating a file costs more the more inodes the kernel holds: 65 µs with empty caches,
    650 µs after a few benchmark runs on the one this was written on; dropped caches make runs comparable."""
    os.sync()
    if DROP_CACHES:
        Path("/proc/sys/vm/drop_caches").write_text("3\n", encoding="ascii")


class _Timed:
    """Wraps a backend to time its start-up (``check``) apart from its grading phase, which ends when the run's
    recorder has written and committed the last unit (``recorded``), not when the backend has handed it over."""

    def __init__(self, backend):
        self.backend = backend
        self.check_s = self.grade_s = self.grade_cpu_s = self.grade_main_cpu_s = 0.0
        self._started = (0.0, 0.0, 0.0)
        self.handed_over: list[float] = []  # when each unit's result reached the recorder (monotonic)

    def check(self) -> None:
        started = time.monotonic()
        self.backend.check()
        self.check_s = time.monotonic() - started

    def grade(self, units, settings, record, progress) -> None:
        def stamped(unit, result) -> None:
            self.handed_over.append(time.monotonic())
            record(unit, result)

        settle_disk()
        self._started = (time.monotonic(), time.process_time(), time.thread_time())
        self.backend.grade(units, settings, stamped, progress)

    def steady_per_unit_s(self) -> float:
        """Seconds per unit from the first result to the last: the workers are up and busy throughout."""
        stamps = sorted(self.handed_over)
        return (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1)

    def recorded(self) -> None:
        wall, cpu, main_cpu = self._started
        self.grade_s = time.monotonic() - wall
        self.grade_cpu_s = time.process_time() - cpu  # the coordinator's process (with a LocalCluster's scheduler)
        self.grade_main_cpu_s = time.thread_time() - main_cpu  # its main thread: submitting, receiving, handing over

    def close(self) -> None:
        self.backend.close()


def _stamped(recorder_class: type, timed: list) -> type:
    """``recorder_class`` telling the run's _Timed backend when the last unit is on disk."""

    class Stamped(recorder_class):
        def close(self) -> None:
            super().close()
            if timed:
                timed[-1].recorded()

    return Stamped


def _graded(submissions: Path, out: Path, workers: int, cluster: str | None, task=None,
            in_flight_per_worker: int | None = None, recorder: type | None = None) -> tuple[list[dict], _Timed, float]:
    """One ``make grade`` run (GradeRun, force=True) with its backend timed; ``recorder``: the class that records
    (default: the run's own, grader/recorder.py)."""
    import grader.run as run_module
    from grader.backends import make_backend

    timed: list[_Timed] = []

    def make(cluster_address, count, console):
        backend = make_backend(cluster_address, count, console)
        if task is not None:
            backend.task = task
        if in_flight_per_worker is not None:
            backend.in_flight_per_worker = in_flight_per_worker
        timed.append(_Timed(backend))
        return timed[-1]

    original = run_module.make_backend, run_module.Recorder
    run_module.make_backend = make
    run_module.Recorder = _stamped(recorder or original[1], timed)
    started = time.monotonic()
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):  # the class table, the report's notes
            results = run_module.GradeRun(submissions, out, workers=workers, force=True, cluster=cluster,
                                          console=Console(file=io.StringIO())).run()
    finally:
        run_module.make_backend, run_module.Recorder = original
    return results, timed[0], time.monotonic() - started


# -- 1. the local pool against a LocalCluster -------------------------------------------------------------------

def pool_start_up(workers: int) -> float:
    """Seconds for the local pool to bring up its workers (spawn, torch, zygote): inside its grading phase,
    where the pool starts them, so it is measured apart here and taken off."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from grader.backends.local import _worker_init

    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_init) as pool:
        list(pool.map(time.sleep, [0.5] * workers))  # one task per worker: each must be up
    return time.monotonic() - started - 0.5


def replicated(submissions: Path, folder: Path, copies: int) -> Path:
    """The class ``copies`` times over (``alice-1``, ``alice-2`` …): more units, the same mix."""
    if copies <= 1:
        return submissions
    for student in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for copy in range(1, copies + 1):
            shutil.copytree(student, folder / f"{student.name}-{copy}")
    return folder


def _outcomes(results: list) -> list:
    return [(r["student_id"], r["assignment"], r["score"], [(t["outcome"], t["message"]) for t in r["tests"]])
            for r in results]


def compare_backends(submissions: Path, workers: int, work: Path, repeat: int = 2, copies: int = 3) -> dict:
    """Both backends ``repeat`` times, alternating (the machine's load drifts); the median run of each counts."""
    submissions = replicated(submissions, work / "class", copies)
    runs: dict[str, list] = {"pool": [], "dask": []}
    starts = []
    for attempt in range(repeat):
        for name in (("pool", "dask") if attempt % 2 == 0 else ("dask", "pool")):
            cluster = None if name == "pool" else f"local:{workers}"
            runs[name].append(_graded(submissions, work / f"{name}-{attempt}", workers, cluster))
            if name == "pool":
                starts.append(pool_start_up(workers))
    steady = {name: [timed.steady_per_unit_s() for _, timed, _ in runs[name]] for name in runs}
    median = {name: statistics.median(steady[name]) for name in runs}
    pool = runs["pool"][0][0]
    units = len(pool)
    same = all(_outcomes(results) == _outcomes(pool) for results, _, _ in runs["pool"] + runs["dask"])
    seconds = {name: [r["seconds"] for results, _, _ in runs[name] for r in results if r.get("seconds") is not None]
               for name in runs}  # grade_unit's own time, measured in the worker
    overhead = median["dask"] - median["pool"]

    def backend(name: str, start_s: float) -> dict:
        return {"start_s": round(start_s, 2), "per_unit_s": round(median[name], 4),
                "runs_per_unit_s": [round(x, 4) for x in steady[name]],
                "grading_s": [round(timed.grade_s, 2) for _, timed, _ in runs[name]],
                "wall_s": [round(wall, 2) for _, _, wall in runs[name]],
                "unit_seconds_mean": round(statistics.fmean(seconds[name]), 3) if seconds[name] else None,
                "unit_seconds_median": round(statistics.median(seconds[name]), 3) if seconds[name] else None}

    return {"units": units, "workers": workers, "repeat": repeat, "copies": copies, "same_results": same,
            "pool": backend("pool", statistics.median(starts)),
            "dask": backend("dask", statistics.median(timed.check_s for _, timed, _ in runs["dask"])),
            "overhead_per_unit_s": round(overhead, 4),
            "overhead_pct": round(100 * overhead / median["pool"], 1),
            "unit_seconds_mean": round(statistics.fmean(seconds["dask"]), 3) if seconds["dask"] else None,
            "unit_seconds_median": round(statistics.median(seconds["dask"]), 3) if seconds["dask"] else None}


# -- 2. the coordinator's capacity ------------------------------------------------------------------------------

# The figures measured on the commit before grader/recorder.py (README, "Cost and capacity"; idle machine), printed
# beside today's. The same recording is also measured live (PreviousRecorder), under the same load as today's.
PREVIOUS = {"commit": "640f31c", "dask_per_cpu_s": 477.0, "dask_per_main_thread_cpu_s": 576.0, "dask_wall_per_s": 359.0}


def trivial_unit(ready: dict, name, data, assignment_id, student_id, settings) -> "UnitResult":
    """A worker's answer at once: the ready-made result of a real unit, for this student and assignment, with
    its feedback page rendered, as a worker renders it."""
    from grader.outputs import with_page
    from grader.results import UnitResult

    return with_page(UnitResult.from_dict({**ready, "student_id": student_id, "assignment": assignment_id}))


class PreviousRecorder:
    """The recording as it was before grader/recorder.py (commit 640f31c), for the side-by-side figures: all of it
    in the coordinator's thread, the submission read again for its hash, a rich print per unit, and a commit per
    burst of results (the bursts were about 100 units with 200 in flight: here a commit per 100 units)."""

    def __init__(self, book, out: Path, console: Console, course=None, **_):
        self.book, self.out, self.console, self.course = book, out, console, course
        self._batch = None
        self._count = 0

    def __enter__(self) -> "PreviousRecorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._batch is not None:
            self._batch.__exit__(None, None, None)
            self._batch = None

    def record(self, unit, result, submission_hash: str, tests_hash: str) -> None:
        from grader.outputs import write_unit
        from grader.recorder import log_line

        if self._batch is None:
            self._batch = self.book.batch()
            self._batch.__enter__()
        read_again = unit._read_hash() if hasattr(unit, "_read_hash") else submission_hash
        self.book.save(result, read_again, tests_hash)
        result.page = None  # the previous recording rendered every feedback page here, in the coordinator
        write_unit(self.out, result)
        if self.course is not None:
            self.course.record(unit, result)
        self.console.print(log_line(unit.student_id, result), markup=False, highlight=False)
        self._count += 1
        if self._count % 100 == 0:
            self.close()


def stop_processes(processes: list[subprocess.Popen], grace_s: float = 30) -> None:
    """Stop a scheduler and its workers: SIGTERM, workers first, so each leaves cleanly; SIGKILL after
    ``grace_s``. Each is waited for, so none is left behind as a zombie."""
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def separate_cluster(workers: int, folder: Path):
    """A scheduler and workers in processes of their own (``dask scheduler``, ``dask worker``), as on a real
    cluster: the coordinator's process then does only the coordinator's work."""
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": str(REPO)}
    processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                  **quiet)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark's dask scheduler did not start")
            time.sleep(0.2)
        for _ in range(workers):
            processes.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                               str(scheduler_file), "--nthreads", "1", "--memory-limit", "0",
                                               "--no-dashboard"], **quiet))
        address = json.loads(scheduler_file.read_text())["address"]
        from distributed import Client

        with Client(address) as client:
            client.wait_for_workers(workers, timeout=300)
        yield address
    finally:
        stop_processes(processes)


ASSIGNMENTS = ("alexnet", "vgg", "inception", "resnet", "densenet")


def _capacity_class(units: int, work: Path, assignment_id: str) -> Path:
    """``units`` submissions shaped like a real class: students × the five assignments (so a student's folders
    exist after their first unit), each notebook a copy of ``assignment_id``'s solution."""
    submissions = work / "capacity-class"
    notebook = REPO / "solutions" / assignment_id / f"{assignment_id}.ipynb"
    for i in range(units):
        assignment = ASSIGNMENTS[i % len(ASSIGNMENTS)]
        folder = submissions / f"s{i // len(ASSIGNMENTS):05d}" / assignment
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, folder / f"{assignment}.ipynb")
    return submissions


def _ready(sample: dict) -> dict:
    return {k: v for k, v in sample.items() if k not in ("problems", "timestamp")} | {"problems": []}


def _rates(units: int, wall_s: float, cpu_s: float, main_cpu_s: float | None = None) -> dict:
    rates = {"wall_per_s": round(units / wall_s, 1), "per_cpu_s": round(units / cpu_s, 1)}
    if main_cpu_s:
        rates["per_main_thread_cpu_s"] = round(units / main_cpu_s, 1)
    return rates


def record_alone(submissions: Path, work: Path, sample: dict, recorder: type, label: str) -> dict:
    """The coordinator's recording without Dask: ``units`` ready results (as ``trivial_unit``'s workers deliver
    them, pages rendered) through GradeRun._record and ``recorder``, from the first hand-over until the last unit
    is committed."""
    from grader.gradebook import Gradebook
    from grader.run import GradeRun, discover

    todo = discover(submissions)[0]
    units = len(todo)
    ready = _ready(sample)
    results = [trivial_unit(ready, None, None, unit.assignment, unit.student_id, None) for unit in todo]
    out = work / f"alone-{label}"
    shutil.rmtree(out, ignore_errors=True)
    run = GradeRun(submissions, out, console=Console(file=io.StringIO()))
    book = Gradebook(out / "gradebook.db")
    hashes = {assignment: "tests" for assignment in ASSIGNMENTS}
    settle_disk()
    started, cpu = time.monotonic(), time.process_time()
    with recorder(book, out, run.console) as handed_to:
        for unit, result in zip(todo, results):
            run._record(handed_to, unit, result, hashes)
    wall_s, cpu_s = time.monotonic() - started, time.process_time() - cpu
    recorded = book.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    book.close()
    if recorded != units:
        raise RuntimeError(f"recording alone ({label}) recorded {recorded} of {units} units")
    return _rates(units, wall_s, cpu_s)


def through_dask(units: int, submissions: Path, address: str, workers: int, work: Path, sample: dict,
                 recorder: type, label: str, in_flight: int) -> dict:
    """``units`` trivial units graded on the cluster at ``address`` and recorded by ``recorder``."""
    results, timed, _ = _graded(submissions, work / f"dask-{label}", workers, address,
                                task=partial(trivial_unit, _ready(sample)), in_flight_per_worker=in_flight,
                                recorder=recorder)
    failed = [r for r in results if r["status"] != "graded"]
    if len(results) != units or failed:
        raise RuntimeError(f"the capacity run ({label}) recorded {len(results)} of {units} units; "
                           f"{failed[0]['status'] if failed else ''}")
    return _rates(units, timed.grade_s, timed.grade_cpu_s, timed.grade_main_cpu_s)


def _best(runs: list[dict]) -> dict:
    """Each rate's best over the repeats (other jobs on the machine only ever slow a run down), and all of them."""
    best = {key: max(run[key] for run in runs) for key in runs[0]}
    return best | {"runs": runs}


def capacity(units: int, workers: int, work: Path, sample: dict, repeat: int = 2, alone_units: int = 2000) -> dict:
    """Units recorded per second, today's recorder and the previous one alternating ``repeat`` times each: the
    coordinator alone (no Dask), then trivial units through a scheduler and workers of their own."""
    from grader.recorder import Recorder

    recorders = {"previous": PreviousRecorder, "now": Recorder}
    alone: dict[str, list] = {"previous": [], "now": []}
    dask: dict[str, list] = {"previous": [], "now": []}
    order = lambda attempt: ("previous", "now") if attempt % 2 == 0 else ("now", "previous")  # noqa: E731
    submissions = _capacity_class(units, work, sample["assignment"])
    alone_class = submissions if alone_units == units else _capacity_class(alone_units, work / "alone",
                                                                            sample["assignment"])
    for attempt in range(repeat):
        for label in order(attempt):
            alone[label].append(record_alone(alone_class, work, sample, recorders[label], label))
    in_flight = 100  # per worker: like a hundred workers with two units each
    with separate_cluster(workers, work) as address:
        for attempt in range(repeat):
            for label in order(attempt):
                dask[label].append(through_dask(units, submissions, address, workers, work, sample,
                                                recorders[label], label, in_flight))
    return {"units": units, "alone_units": alone_units, "workers": workers, "in_flight": in_flight * workers,
            "repeat": repeat, "previous_measured": PREVIOUS,
            "alone": {label: _best(runs) for label, runs in alone.items()},
            "dask": {label: _best(runs) for label, runs in dask.items()},
            "what": "per unit: Dask submit and result, gradebook row (batched commits), result JSON, feedback page, "
                    "log line; scheduler and workers in processes of their own"}


# -- 3. on paper ------------------------------------------------------------------------------------------------

def on_paper(unit_seconds: float, overhead_s: float, start_s: float, worker_counts=(2, 16, 64, 100, 200)) -> list[dict]:
    students, assignments = CLASS
    units = students * assignments
    rows = []
    for n in worker_counts:
        grading = units * (unit_seconds + max(overhead_s, 0.0)) / n
        rows.append({"workers": n, "units": units, "minutes": round((grading + start_s) / 60, 1),
                     "units_per_s": round(n / (unit_seconds + max(overhead_s, 0.0)), 1)})
    return rows


def graded_sample(work: Path, assignment_id: str = "densenet") -> dict:
    """A real, fully graded result (the solution of ``assignment_id``, graded by the local pool) as the trivial
    unit's answer, for ``--capacity-only``, which grades nothing else."""
    folder = work / "sample-class" / "solution" / assignment_id
    folder.mkdir(parents=True)
    shutil.copyfile(REPO / "solutions" / assignment_id / f"{assignment_id}.ipynb", folder / f"{assignment_id}.ipynb")
    results, _, _ = _graded(work / "sample-class", work / "sample", 1, None)
    return results[0].to_dict()


def _sample_from(book: Path) -> dict:
    import sqlite3

    with sqlite3.connect(book) as db:  # a real, fully graded result as the trivial unit's answer
        return json.loads(db.execute("SELECT result_json FROM results WHERE status='graded' "
                                     "ORDER BY max_score DESC LIMIT 1").fetchone()[0])


def run(workers: int, capacity_units: int, submissions: Path, repeat: int = 2, capacity_only: bool = False,
        copies: int = 3) -> dict:
    work = Path(tempfile.mkdtemp(prefix="cnn-bench-cluster-"))
    try:
        if capacity_only:
            compared, sample = None, graded_sample(work)
        else:
            compared = compare_backends(submissions, workers, work, repeat, copies)
            sample = _sample_from(work / "dask-0" / "gradebook.db")
        cap = capacity(capacity_units, workers, work, sample, repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict = {"compare": compared, "capacity": cap, "targets": []}
    if compared is not None:
        unit_s = compared["unit_seconds_mean"] or compared["pool"]["per_unit_s"]
        result |= {"class_on_paper": on_paper(unit_s, compared["overhead_per_unit_s"], compared["dask"]["start_s"]),
                   "unit_seconds_for_paper": unit_s}
        result["targets"].append(
            {"name": "Dask overhead per unit (LocalCluster vs local pool, same workers)",
             "target": f"≤ {TARGETS['overhead_pct']:g}%", "value": compared["overhead_pct"],
             "ok": compared["overhead_pct"] is not None and compared["overhead_pct"] <= TARGETS["overhead_pct"]})
    goal = TARGETS["capacity_units_per_s"]
    for name, value in (
            ("coordinator alone: units recorded per second, wall clock (ready results; gradebook, result JSON, "
             "feedback page, log line)", cap["alone"]["now"]["wall_per_s"]),
            ("through Dask: units recorded per CPU second of the coordinator's process (trivial unit)",
             cap["dask"]["now"]["per_cpu_s"])):
        result["targets"].append({"name": name, "target": f"≥ {goal:g}/s", "value": value, "ok": value >= goal})
    # Shown, not judged: on one machine the scheduler and the workers take what the coordinator leaves of its cores,
    # so this rate is the machine's; with the coordinator pinned to a core of its own (taskset) the scheduler's
    # core sets it (README, "Cost and capacity").
    result["shown"] = [{"name": "through Dask: units recorded per second, wall clock (trivial unit; the scheduler "
                                "and the workers share this machine's cores, so it is the machine's rate, not the "
                                "coordinator's)", "value": cap["dask"]["now"]["wall_per_s"]}]
    return result


def print_report(result: dict, console: Console) -> None:
    c = result["compare"]
    if c is not None:
        table = Table(title=f"Local pool vs Dask LocalCluster: {c['units']} units (the class ×{c['copies']}), "
                            f"{c['workers']} workers each, median of {c['repeat']} alternating runs "
                            f"(same results: {'yes' if c['same_results'] else 'NO'})")
        for column in ("backend", "start-up s", "steady s per unit", "every run: s per unit", "grading s", "wall s"):
            table.add_column(column, justify="right" if column != "backend" else "left")
        for name in ("pool", "dask"):
            row = c[name]
            table.add_row("local pool" if name == "pool" else "Dask LocalCluster", f"{row['start_s']:.2f}",
                          f"{row['per_unit_s']:.3f}", ", ".join(f"{x:.3f}" for x in row["runs_per_unit_s"]),
                          ", ".join(f"{x:.1f}" for x in row["grading_s"]), ", ".join(f"{x:.1f}" for x in row["wall_s"]))
        console.print(table)
        console.print(f"Dask overhead per unit: {c['overhead_per_unit_s']:+.3f} s ({c['overhead_pct']:+.1f}% of the "
                      f"pool's time per unit; steady state: first result to last, over the units between); "
                      f"grade_unit's own time per unit, in the worker: pool mean {c['pool']['unit_seconds_mean']} s "
                      f"(median {c['pool']['unit_seconds_median']} s), Dask mean {c['dask']['unit_seconds_mean']} s "
                      f"(median {c['dask']['unit_seconds_median']} s)")
    print_capacity(result["capacity"], console)
    if c is not None:
        paper = Table(title=f"On paper: {CLASS[0]:,} students × {CLASS[1]} assignments at "
                            f"{result['unit_seconds_for_paper']:.2f} s per unit (measured above)")
        for column in ("workers", "units", "minutes", "units/s delivered"):
            paper.add_column(column, justify="right")
        for row in result["class_on_paper"]:
            paper.add_row(str(row["workers"]), f"{row['units']:,}", f"{row['minutes']:.1f}",
                          f"{row['units_per_s']:.1f}")
        console.print(paper)
    for target in result["targets"]:
        mark = "[green]ok[/green]" if target["ok"] else "[red]missed[/red]"
        console.print(f"  {mark}  {target['name']}: {target['value']} (target {target['target']})")
    for figure in result.get("shown", []):
        console.print(f"  [dim]shown[/dim]  {figure['name']}: {figure['value']}")


def print_capacity(cap: dict, console: Console) -> None:
    """Today's recorder beside the previous recording (measured now, alternating) and the figures of its commit."""
    old = cap["previous_measured"]
    table = Table(title=f"The coordinator's capacity: units recorded per second, best of {cap['repeat']} "
                        f"alternating runs (target ≥ {TARGETS['capacity_units_per_s']:g}/s)")
    for column in ("units/s", f"previous ({old['commit']} README)", "previous now", "now", "ratio"):
        table.add_column(column, justify="left" if column == "units/s" else "right")
    rows = [("alone: wall clock", None, "alone", "wall_per_s"),
            ("alone: per CPU second", None, "alone", "per_cpu_s"),
            ("Dask: wall clock", old["dask_wall_per_s"], "dask", "wall_per_s"),
            ("Dask: per CPU second", old["dask_per_cpu_s"], "dask", "per_cpu_s"),
            ("Dask: per CPU s, main thread", old["dask_per_main_thread_cpu_s"], "dask", "per_main_thread_cpu_s")]
    for label, documented, part, key in rows:
        before, now = cap[part]["previous"][key], cap[part]["now"][key]
        table.add_row(label, "" if documented is None else f"{documented:.0f}", f"{before:.0f}", f"{now:.0f}",
                      f"{now / before:.2f}×")
    console.print(table)
    console.print(f"  alone: {cap['alone_units']} ready results handed to GradeRun._record; Dask: {cap['units']} "
                  f"trivial units, {cap['in_flight']} in flight; both: students × {len(ASSIGNMENTS)} assignments; "
                  f"previous (README): 2,000 students × 1 assignment, a new student's folders for every unit; "
                  f"ratio: now / previous measured now; previous: "
                  f"the recording before grader/recorder.py ({cap['what']}); every run: " + "; ".join(
        f"{part} {label} " + ", ".join(f"{r['wall_per_s']:.0f}/s ({r['per_cpu_s']:.0f}/CPU s)" for r in
                                       cap[part][label]["runs"])
        for part in ("alone", "dask") for label in ("previous", "now")), soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="worker processes for both backends (default 2)")
    parser.add_argument("--capacity-units", type=int, default=2000, help="trivial units for the capacity (2000)")
    parser.add_argument("--capacity-only", action="store_true",
                        help="only the coordinator's capacity (part 2; about 1 minute): no class graded twice")
    parser.add_argument("--submissions", default=str(REPO / "examples" / "submissions"),
                        help="the class graded by both backends (default: the bundled examples)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternating (default 3)")
    parser.add_argument("--copies", type=int, default=3,
                        help="the class this many times over for the pool/Dask comparison (default 3: 81 units)")
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--drop-caches", action="store_true",
                        help="drop the kernel's caches before each timed run (root; see settle_disk)")
    args = parser.parse_args(argv)
    if args.drop_caches:
        if os.geteuid() != 0:
            parser.error("--drop-caches needs root (it writes /proc/sys/vm/drop_caches)")
        global DROP_CACHES
        DROP_CACHES = True
    result = run(args.workers, args.capacity_units, Path(args.submissions), args.repeat, args.capacity_only,
                 args.copies)
    print_report(result, Console())
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0 if all(t["ok"] for t in result["targets"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
