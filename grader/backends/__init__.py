"""Where the units of a run are graded: today's local process pool, or a Dask cluster.

A backend gets the units still to grade and hands each result to ``record`` as
soon as it arrives; the coordinator (``grader.run``) stays the only writer of
``grades/``. Both backends run the same unit function (``grader.unit.grade_unit``)
in a worker process that owns its zygote, so scores, messages and feedback are
the same on each (timings aside).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, Sequence

if TYPE_CHECKING:
    from rich.console import Console

    from grader.progress import RunProgress
    from grader.run import Unit
    from grader.results import UnitResult
    from grader.sandbox.modes import SandboxMode
    from grader.unit import Settings

Record = Callable[["Unit", dict], None]


class ClusterError(RuntimeError):
    """The cluster cannot grade this run (no admitted worker, insecure transport, lost scheduler)."""


class Backend(Protocol):
    def check(self) -> "SandboxMode | None":
        """Before anything is graded: raise if this backend cannot grade with the sandbox asked for; the mode its
        workers will use where it is known now (a cluster's workers report theirs as they join: None)."""

    def grade(self, units: Sequence["Unit"], settings: "Settings", record: Record, progress: "RunProgress") -> None:
        """Grade every unit, calling ``record(unit, result)`` once per unit, in the coordinator's process, and
        ``progress.advance()`` after it; ``record`` only hands the result to the run's writer thread
        (grader/recorder.py), so the backend is soon back to its workers."""

    def close(self) -> None:
        """Release the workers (and a cluster this backend started)."""


def make_backend(cluster: str | None, workers: int, console: "Console") -> Backend:
    """``None``: the local pool (``workers`` processes, default one per core); else a Dask cluster address or
    ``local:N`` (see grader/backends/dask.py)."""
    if not cluster:
        from grader.backends.local import LocalPool

        return LocalPool(workers)
    from grader.backends.dask import DaskBackend

    return DaskBackend(cluster, console)


def complete(unit: "Unit", result: "UnitResult") -> "UnitResult":
    """What the coordinator knows about a unit and a worker does not: discovery's notes and the timestamp."""
    if unit.problems:  # a page rendered without discovery's notes: the writer renders it again
        result.page = None
    result.problems = unit.problems + result.problems
    result.timestamp = unit.timestamp
    return result
