"""Recording graded units off the coordinator's hot path: one writer thread, commits by the batch.

The coordinator (``grader.run``) stays the only writer of ``grades/``: during a
run every unit goes through one ``Recorder``, whose single thread saves the
gradebook row, writes the result JSON and the feedback page, writes the
course's nbgrader gradebook where there is one, and prints the unit's log line.
The thread that receives results from the workers (the local pool's or Dask's)
only hands them over, so it is free to keep the workers busy while pages are
rendered and files written.

What a killed run leaves stays consistent: a unit's files are written before
the transaction holding its gradebook row commits, so a unit the gradebook
calls recorded always has its files; a unit whose row was not committed yet is
graded again by the next run, which rewrites its files. Rows are committed when
the writer has caught up with the workers (so a unit at a time when results come
slowly), and at the latest every ``commit_every`` units or ``commit_seconds``
while they come faster; and at the end.
"""
from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from grader.gradebook import Gradebook
from grader.outputs import write_unit
from grader.results import UnitResult

if TYPE_CHECKING:
    from grader.nbgrader_course.gradebook import CourseGradebook

_STOP = object()


class RecordingError(RuntimeError):
    """The writer could not record a unit (a full disk, a folder it may not write): the run stops."""


def log_line(student_id: str, result: UnitResult) -> str:
    """The unit's line in the run's output (plain text: a student's status is not rich markup)."""
    return (f"  {student_id}/{result.assignment}: {result.score:g}/{result.max_score:g}"
            + (f"  ({result.seconds:.2f} s)" if result.seconds else "")
            + ("  ⚑ needs review" if result.needs_review else "")
            + ("" if result.status == "graded" else f"  [{result.status[:80]}]"))


class Recorder:
    """``with Recorder(book, out, console) as recorder: recorder.record(unit, result, submission_hash, tests_hash)``.

    Leaving the block waits until every unit handed over is recorded and committed, also when the block
    raised (a lost scheduler, Ctrl-C): what the workers delivered is kept.
    """

    def __init__(self, book: Gradebook, out: Path, console: Console, course: "CourseGradebook | None" = None,
                 commit_every: int = 500, commit_seconds: float = 1.0, backlog: int = 2000):
        self.book, self.out, self.console, self.course = book, out, console, course
        self.commit_every, self.commit_seconds = commit_every, commit_seconds
        self._queue: queue.Queue = queue.Queue(maxsize=backlog)  # full: the workers wait on the writer
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.recorded = 0  # units committed so far

    def __enter__(self) -> "Recorder":
        self._thread = threading.Thread(target=self._write_all, name="grades-writer", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Record everything handed over, commit, stop the thread; raises what stopped the writer, if anything."""
        if self._thread is not None:
            self._put(_STOP)
            self._thread.join()
            self._thread = None
        self._raise_if_failed()

    def record(self, unit: Any, result: UnitResult, submission_hash: str, tests_hash: str) -> None:
        """Hand one unit to the writer (waits only while ``backlog`` units are still to be written)."""
        self._raise_if_failed()
        if self._thread is None:  # not started (a caller outside a run): record it here and now
            self._write_batch([(unit, result, submission_hash, tests_hash)])
            return
        self._put((unit, result, submission_hash, tests_hash))

    def _put(self, item) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                self._raise_if_failed()  # a dead writer empties nothing

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise RecordingError(f"could not record into {self.out}: {type(error).__name__}: {error}; the units "
                                 f"recorded before are kept and the next run grades the rest") from error

    # -- the writer thread ----------------------------------------------------------------------------------
    def _write_all(self) -> None:
        stop = False  # set once close()'s _STOP has been taken from the queue
        try:
            while not stop:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch = [item]
                started = time.monotonic()
                while len(batch) < self.commit_every and time.monotonic() - started < self.commit_seconds:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break  # caught up with the workers: commit what there is
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                self._write_batch(batch)
        except BaseException as err:  # told to the coordinator's thread at its next record() or at close()
            self._error = err
            if not stop:  # close() is waiting in join(): nothing more will be put, and its _STOP is taken
                self._drain()

    def _write_batch(self, batch: list[tuple]) -> None:
        """One transaction: each unit's row, then its files; committed once all of them are written."""
        lines = []
        with self.book.batch():
            for unit, result, submission_hash, tests_hash in batch:
                with self.book.unit():  # a unit whose files fail leaves no row behind
                    self.book.save(result, submission_hash, tests_hash)  # may word a grader failure's status
                    write_unit(self.out, result)
                if self.course is not None:
                    self.course.record(unit, result)
                lines.append(log_line(unit.student_id, result))
        self.recorded += len(batch)
        self.console.print("\n".join(lines), markup=False, highlight=False)  # one print per batch, not per unit

    def _drain(self) -> None:
        """After a failure: take what is queued (unrecorded: graded again next run) so no put() waits forever,
        until close()'s _STOP."""
        while self._queue.get() is not _STOP:
            pass
