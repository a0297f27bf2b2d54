"""Today's backend: a spawn process pool on this machine, each worker owning one zygote.

A worker that dies takes the pool with it (``BrokenProcessPool``): the units it
had not finished go to a fresh pool, and a unit that was in flight when two
pools broke is recorded as a grader failure.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Sequence

from grader.backends import Record, complete

if TYPE_CHECKING:
    from grader.progress import RunProgress
    from grader.sandbox.modes import SandboxMode
    from grader.run import Unit
    from grader.unit import Settings


def _worker_init() -> None:
    """One thread per worker (workers fill the cores), and torch's lazy start-up paid before the first unit."""
    from grader.sandbox import launcher

    launcher.launch_early()  # this worker's zygote starts up while the worker imports torch and warms up
    from grader.sandbox.zygote import warm_up
    from grader.unit import zygote

    warm_up()
    zygote()  # ready now, not inside the first student's time


def _grade(unit: "Unit", settings: "Settings") -> dict:
    from grader.outputs import with_page
    from grader.run import _not_graded
    from grader.unit import grade_unit

    if unit.path is None:
        return _not_graded(unit, "; ".join(unit.problems) or "no notebook found")
    return with_page(complete(unit, grade_unit(unit.path, unit.assignment, unit.student_id, settings)))


class LocalPool:
    """``workers`` spawned processes on this machine (default: one per core)."""

    def __init__(self, workers: int = 0):
        self.workers = workers or os.cpu_count() or 1

    def check(self) -> "SandboxMode":
        """The mode every worker's zygote will build; raises if the one asked for (or any) cannot be built here."""
        from grader.run import check_sandbox

        return check_sandbox()

    def close(self) -> None:
        """Each pool closes itself at the end of ``grade``."""

    def grade(self, units: Sequence["Unit"], settings: "Settings", record: Record, progress: "RunProgress") -> None:
        def deliver(unit: "Unit", result: dict) -> None:
            record(unit, result)
            progress.advance()

        attempts: dict[int, int] = {}
        pending = list(units)
        while pending:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(self.workers, len(pending)), mp_context=context,
                                     initializer=_worker_init) as pool:
                futures: dict[Future, "Unit"] = {pool.submit(_grade, unit, settings): unit for unit in pending}
                pending = []
                broken = False
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    broken = self._collect(done, futures, attempts, pending, deliver) or broken
                    if broken:
                        break
                if broken:
                    pending.extend(futures.values())

    @staticmethod
    def _collect(done, futures: dict, attempts: dict, pending: list, deliver: Record) -> bool:
        """Record the finished futures; True if the pool broke (its unfinished units then go to a new pool)."""
        from grader.run import _grader_failure

        broken = False
        for future in done:
            unit = futures.pop(future)
            try:
                deliver(unit, future.result())
            except BrokenProcessPool:
                broken = True
                attempts[id(unit)] = attempts.get(id(unit), 0) + 1
                if attempts[id(unit)] >= 2:
                    deliver(unit, _grader_failure(unit, "the grader's worker process died twice on this submission"))
                else:
                    pending.append(unit)
            except Exception as err:  # a grader bug must not lose the rest of the class
                deliver(unit, _grader_failure(unit, f"internal grader error: {type(err).__name__}: {err}"))
        return broken
