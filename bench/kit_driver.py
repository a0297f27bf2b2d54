"""The kit's side of the benchmark, run as its own process: ``python -m bench.kit_driver SUBMITTED OUT JSON``.

It is ``make grade``'s engine (grader.run.GradeRun, workers on every core
unless --workers), on a fresh output folder with force=True; it only also
keeps each unit's ``seconds`` (the time grade_unit measured for it), which the
gradebook does not store.

One difference, for steady-state per-unit times: each worker starts its zygote
in its pool initializer (timed, and reported as the workers' start-up) instead
of lazily inside its first unit, where grade_unit's clock would count it. The
run's wall time includes it either way.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path


WORKER_LOG = "BENCH_KIT_WORKER_LOG"


def warm_worker() -> None:
    """The pool initializer: the engine's own (torch threads), then this worker's zygote, timed."""
    started = time.monotonic()
    from grader.backends import local as run
    from grader.unit import zygote

    run._worker_init()
    zygote()
    line = json.dumps({"pid": os.getpid(), "seconds": round(time.monotonic() - started, 3)})
    with open(os.environ[WORKER_LOG], "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


_seen: set[str] = set()


def timed_grade(unit, settings):
    """The engine's own unit function, plus which worker ran it, whether it was that worker's first unit of
    its assignment (which pays pytest's collection and loading the reference solution), its CPU seconds in
    this worker and, with --profile, where its time went (grader.profiling)."""
    from grader import profiling
    from grader.backends import local as run

    cold = unit.assignment not in _seen
    _seen.add(unit.assignment)
    cpu = time.process_time()
    result = run._grade(unit, settings)
    extra = {"worker": os.getpid(), "cold": cold, "cpu_s": round(time.process_time() - cpu, 4)}
    if profiling.enabled():
        extra["profile"] = profiling.take()
    return result, extra


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("submissions")
    parser.add_argument("out")
    parser.add_argument("json")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--assignment", action="append", default=[])
    parser.add_argument("--profile", action="store_true", help="carry each unit's profile (grader.profiling)")
    args = parser.parse_args()
    if args.profile:
        os.environ["GRADER_PROFILE"] = "1"  # before the pool spawns its workers, which inherit it

    started = time.monotonic()
    import torch
    from rich.console import Console

    from grader.backends import local as run
    from grader.run import GradeRun

    os.environ[WORKER_LOG] = str(Path(args.json).with_suffix(".workers.jsonl"))
    if hasattr(run, "_worker_init") and hasattr(run, "_grade"):  # else: the engine as is, without cold/warm marks
        run._worker_init = warm_worker  # the local pool passes these module globals to its workers
        run._grade = timed_grade

    units: list[dict] = []

    class TimedRun(GradeRun):
        def _record(self, book, unit, result, hashes) -> None:
            result, extra = result if isinstance(result, tuple) else (result, {})  # (UnitResult, bench marks)
            units.append({**extra, "student_id": result.student_id, "assignment": result.assignment,
                          "seconds": result.seconds or None, "score": result.score,  # None: not run
                          "max_score": result.max_score, "status": result.status,
                          "failed": [t.name for t in result.tests if t.outcome != "passed"],
                          "finished_at": round(time.monotonic() - started, 3)})
            super()._record(book, unit, result, hashes)

    grading_started = time.monotonic()
    TimedRun(Path(args.submissions), Path(args.out), workers=args.workers, force=True,
             only=tuple(args.assignment), console=Console(file=io.StringIO())).run()
    grading_wall = time.monotonic() - grading_started
    cuda = torch.cuda.is_available()
    log = Path(os.environ[WORKER_LOG])
    starts = [json.loads(x)["seconds"] for x in log.read_text().splitlines()] if log.exists() else []
    Path(args.json).write_text(json.dumps({
        "units": units, "grading_wall_s": round(grading_wall, 3),
        "workers": args.workers or os.cpu_count(), "worker_start_s": starts,
        "cuda_available": cuda, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
    }, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
