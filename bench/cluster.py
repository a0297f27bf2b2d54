"""``python -m bench.cluster`` (also printed by ``make bench``): what grading on Dask costs, and what the coordinator
can take.

1. The same class (the bundled examples by default) graded twice, ``force=True``:
   by the local process pool and by a ``LocalCluster`` with the same number of
   worker processes. Dask's overhead per unit = the difference of the grading
   phases (after the workers are up) divided by the units, as a share of the
   pool's time per unit (target ≤ 10%). Start-up (pool or cluster plus
   zygotes) is shown apart.
2. The coordinator's capacity: a trivial unit (a worker returns a ready-made
   result at once) for many submissions, recorded exactly as in a real run —
   gradebook (batched commits), result JSON, feedback page, log line. Units
   recorded per second (target ≥ 500/s: a hundred workers at 0.29 s per unit
   deliver about 340/s). Many units are kept in flight so that the coordinator,
   not the round trip to two local workers, is what is measured.
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
from contextlib import contextmanager, redirect_stdout
from functools import partial
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"overhead_pct": 10.0, "capacity_units_per_s": 500.0}
CLASS = (2000, 5)  # students × assignments, for the estimate on paper


class _Timed:
    """Wraps a backend to time its start-up (``check``) apart from its grading phase."""

    def __init__(self, backend):
        self.backend = backend
        self.check_s = self.grade_s = self.grade_cpu_s = self.grade_main_cpu_s = 0.0

    def check(self) -> None:
        started = time.monotonic()
        self.backend.check()
        self.check_s = time.monotonic() - started

    def grade(self, *args, **kwargs) -> None:
        started, cpu, main_cpu = time.monotonic(), time.process_time(), time.thread_time()
        self.backend.grade(*args, **kwargs)
        self.grade_s = time.monotonic() - started
        self.grade_cpu_s = time.process_time() - cpu  # the coordinator's process (with a LocalCluster's scheduler)
        self.grade_main_cpu_s = time.thread_time() - main_cpu  # its main thread: submitting and recording

    def close(self) -> None:
        self.backend.close()


def _graded(submissions: Path, out: Path, workers: int, cluster: str | None, task=None,
            in_flight_per_worker: int | None = None) -> tuple[list[dict], _Timed, float]:
    """One ``make grade`` run (GradeRun, force=True) with its backend timed."""
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

    original = run_module.make_backend
    run_module.make_backend = make
    started = time.monotonic()
    try:
        with redirect_stdout(io.StringIO()):  # the class table
            results = run_module.GradeRun(submissions, out, workers=workers, force=True, cluster=cluster,
                                          console=Console(file=io.StringIO())).run()
    finally:
        run_module.make_backend = original
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


def compare_backends(submissions: Path, workers: int, work: Path, repeat: int = 2) -> dict:
    """Both backends ``repeat`` times, alternating (the machine's load drifts); the fastest run of each counts."""
    runs: dict[str, list] = {"pool": [], "dask": []}
    starts = []
    for attempt in range(repeat):
        for name in (("pool", "dask") if attempt % 2 == 0 else ("dask", "pool")):
            cluster = None if name == "pool" else f"local:{workers}"
            runs[name].append(_graded(submissions, work / f"{name}-{attempt}", workers, cluster))
            if name == "pool":
                starts.append(pool_start_up(workers))
    pool, pool_timed, pool_wall = min(runs["pool"], key=lambda r: r[1].grade_s)
    dask, dask_timed, dask_wall = min(runs["dask"], key=lambda r: r[1].grade_s)
    pool_start = min(starts)
    units = len(pool)
    same = all([(r["student_id"], r["assignment"], r["score"], [(t["outcome"], t["message"]) for t in r["tests"]])
                for r in run[0]] == [(r["student_id"], r["assignment"], r["score"],
                                      [(t["outcome"], t["message"]) for t in r["tests"]]) for r in pool]
               for run in runs["pool"] + runs["dask"])
    seconds = [r["seconds"] for r in dask if r.get("seconds") is not None]
    pool_grading = max(pool_timed.grade_s - pool_start, 1e-9)
    overhead = (dask_timed.grade_s - pool_grading) / units
    return {"units": units, "workers": workers, "repeat": repeat, "same_results": same,
            "pool": {"start_s": round(pool_start, 2), "grading_s": round(pool_grading, 2),
                     "wall_s": round(pool_wall, 2), "per_unit_s": round(pool_grading / units, 3)},
            "dask": {"start_s": round(dask_timed.check_s, 2), "grading_s": round(dask_timed.grade_s, 2),
                     "wall_s": round(dask_wall, 2), "per_unit_s": round(dask_timed.grade_s / units, 3)},
            "overhead_per_unit_s": round(overhead, 3),
            "overhead_pct": round(100 * overhead / (pool_grading / units), 1),
            "unit_seconds_mean": round(statistics.fmean(seconds), 3) if seconds else None,
            "unit_seconds_median": round(statistics.median(seconds), 3) if seconds else None}


# -- 2. the coordinator's capacity ------------------------------------------------------------------------------

def trivial_unit(ready: dict, name, data, assignment_id, student_id, settings) -> "UnitResult":
    """A worker's answer at once: the ready-made result of a real unit, for this student."""
    from grader.results import UnitResult

    return UnitResult.from_dict({**ready, "student_id": student_id})


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
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def capacity(units: int, workers: int, work: Path, sample: dict) -> dict:
    submissions = work / "capacity-class"
    notebook = REPO / "solutions" / sample["assignment"] / f"{sample['assignment']}.ipynb"
    for i in range(units):
        folder = submissions / f"s{i:05d}" / sample["assignment"]
        folder.mkdir(parents=True)
        shutil.copyfile(notebook, folder / notebook.name)
    ready = {k: v for k, v in sample.items() if k not in ("problems", "timestamp")} | {"problems": []}
    in_flight = 100  # per worker: like a hundred workers with two units each
    with separate_cluster(workers, work) as address:
        results, timed, _ = _graded(submissions, work / "capacity", workers, address,
                                    task=partial(trivial_unit, ready), in_flight_per_worker=in_flight)
    failed = [r for r in results if r["status"] != "graded"]
    if len(results) != units or failed:
        raise RuntimeError(f"the capacity run recorded {len(results)} of {units} units; "
                           f"{failed[0]['status'] if failed else ''}")
    return {"units": units, "workers": workers, "in_flight": in_flight * workers,
            "recorded_per_s": round(units / timed.grade_s, 1), "grading_s": round(timed.grade_s, 2),
            # what the coordinator could sustain with a core to itself: units per CPU second its process spent
            "capacity_per_cpu_s": round(units / timed.grade_cpu_s, 1),
            "capacity_per_main_thread_cpu_s": round(units / timed.grade_main_cpu_s, 1),
            "what": "per unit: Dask submit and result, gradebook row (batched commits), result JSON, "
                    "feedback page, log line; scheduler and 2 workers in processes of their own"}


def record_only(units: int, work: Path, sample: dict) -> dict:
    """The coordinator's own share without Dask: recording alone, one commit per unit and batched."""
    from grader.gradebook import Gradebook
    from grader.results import UnitResult
    from grader.run import GradeRun

    run = GradeRun(work, work / "record-only", console=Console(file=io.StringIO()))
    figures = {}
    for label, size in (("one_commit_per_unit", 1), ("batched_by_50", 50)):
        book = Gradebook(work / f"record-only-{label}" / "gradebook.db")
        run.out = work / f"record-only-{label}"
        started = time.monotonic()
        for first in range(0, units, size):
            with book.batch():
                for i in range(first, min(first + size, units)):
                    unit = type("U", (), {"student_id": f"s{i:05d}", "assignment": sample["assignment"],
                                          "content_hash": lambda self: "h"})()
                    result = UnitResult.from_dict({**sample, "student_id": f"s{i:05d}"})
                    run._record(book, unit, result, {sample["assignment"]: "t"})
        figures[label] = round(units / (time.monotonic() - started), 1)
        book.close()
    return figures


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


def run(workers: int, capacity_units: int, submissions: Path, repeat: int = 2) -> dict:
    work = Path(tempfile.mkdtemp(prefix="cnn-bench-cluster-"))
    try:
        compared = compare_backends(submissions, workers, work, repeat)
        sample_book = work / "dask-0" / "gradebook.db"
        import sqlite3

        with sqlite3.connect(sample_book) as db:  # a real, fully graded result as the trivial unit's answer
            sample = json.loads(db.execute("SELECT result_json FROM results WHERE status='graded' "
                                           "ORDER BY max_score DESC LIMIT 1").fetchone()[0])
        cap = capacity(capacity_units, workers, work, sample)
        cap["record_only_per_s"] = record_only(min(capacity_units, 500), work, sample)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    unit_s = compared["unit_seconds_mean"] or compared["pool"]["per_unit_s"]
    result = {"compare": compared, "capacity": cap,
              "class_on_paper": on_paper(unit_s, compared["overhead_per_unit_s"], compared["dask"]["start_s"]),
              "unit_seconds_for_paper": unit_s}
    result["targets"] = [
        {"name": "Dask overhead per unit (LocalCluster vs local pool, same workers)",
         "target": f"≤ {TARGETS['overhead_pct']:g}%", "value": compared["overhead_pct"],
         "ok": compared["overhead_pct"] is not None and compared["overhead_pct"] <= TARGETS["overhead_pct"]},
        {"name": "coordinator capacity, units recorded per CPU second of its process (trivial unit)",
         "target": f"≥ {TARGETS['capacity_units_per_s']:g}/s", "value": cap["capacity_per_cpu_s"],
         "ok": cap["capacity_per_cpu_s"] >= TARGETS["capacity_units_per_s"]},
        {"name": "units recorded per second, wall clock (trivial unit; scheduler and workers share this machine)",
         "target": f"≥ {TARGETS['capacity_units_per_s']:g}/s", "value": cap["recorded_per_s"],
         "ok": cap["recorded_per_s"] >= TARGETS["capacity_units_per_s"]},
    ]
    return result


def print_report(result: dict, console: Console) -> None:
    c = result["compare"]
    table = Table(title=f"Local pool vs Dask LocalCluster: {c['units']} units, {c['workers']} workers each, best of "
                        f"{c['repeat']} (same results: {'yes' if c['same_results'] else 'NO'})")
    for column in ("backend", "start-up s", "grading s", "per unit s", "wall s"):
        table.add_column(column, justify="right" if column != "backend" else "left")
    for name in ("pool", "dask"):
        row = c[name]
        table.add_row("local pool" if name == "pool" else "Dask LocalCluster", f"{row['start_s']:.2f}",
                      f"{row['grading_s']:.2f}", f"{row['per_unit_s']:.3f}", f"{row['wall_s']:.2f}")
    console.print(table)
    console.print(f"Dask overhead per unit: {c['overhead_per_unit_s']:+.3f} s ({c['overhead_pct']:+.1f}% of the "
                  f"pool's time per unit); grade_unit's own time per unit: mean {c['unit_seconds_mean']} s, "
                  f"median {c['unit_seconds_median']} s")
    cap = result["capacity"]
    console.print(f"Coordinator capacity: {cap['capacity_per_cpu_s']:.0f} units recorded per CPU second of the "
                  f"coordinator's process ({cap['capacity_per_main_thread_cpu_s']:.0f} per CPU second of its main "
                  f"thread); wall clock on this machine: {cap['recorded_per_s']:.0f} units/s ({cap['units']} trivial "
                  f"units, {cap['in_flight']} in flight; {cap['what']}); recording alone: "
                  f"{cap['record_only_per_s']['one_commit_per_unit']:.0f}/s with a commit per unit, "
                  f"{cap['record_only_per_s']['batched_by_50']:.0f}/s batched by 50")
    paper = Table(title=f"On paper: {CLASS[0]:,} students × {CLASS[1]} assignments at "
                        f"{result['unit_seconds_for_paper']:.2f} s per unit (measured above)")
    for column in ("workers", "units", "minutes", "units/s delivered"):
        paper.add_column(column, justify="right")
    for row in result["class_on_paper"]:
        paper.add_row(str(row["workers"]), f"{row['units']:,}", f"{row['minutes']:.1f}", f"{row['units_per_s']:.1f}")
    console.print(paper)
    for target in result["targets"]:
        mark = "[green]ok[/green]" if target["ok"] else "[red]missed[/red]"
        console.print(f"  {mark}  {target['name']}: {target['value']} (target {target['target']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="worker processes for both backends (default 2)")
    parser.add_argument("--capacity-units", type=int, default=2000, help="trivial units for the capacity (2000)")
    parser.add_argument("--submissions", default=str(REPO / "examples" / "submissions"),
                        help="the class graded by both backends (default: the bundled examples)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each backend, alternating (default 2)")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)
    result = run(args.workers, args.capacity_units, Path(args.submissions), args.repeat)
    print_report(result, Console())
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0 if all(t["ok"] for t in result["targets"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
