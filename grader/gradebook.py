"""The gradebook: one SQLite file, written only by the coordinator (its writer thread during a run).

Each unit's row carries the content hashes of the submission and of the
tests, so a second run grades only what is missing or changed, and a run
killed midway loses nothing that was already committed. A unit is saved
whole or not at all (a savepoint); units saved inside ``batch()`` share one
commit (grader/recorder.py commits by the batch).
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from grader.results import UnitResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    student_id TEXT NOT NULL,
    assignment TEXT NOT NULL,
    submission_hash TEXT NOT NULL,
    tests_hash TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    needs_review INTEGER NOT NULL,
    timestamp TEXT,
    graded_at TEXT NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (student_id, assignment)
);
CREATE TABLE IF NOT EXISTS test_results (
    student_id TEXT NOT NULL,
    assignment TEXT NOT NULL,
    test TEXT NOT NULL,
    points REAL NOT NULL,
    max_points REAL NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (student_id, assignment, test)
);
"""


# A unit stopped by the grader's own fault is graded again by the next run, but not forever: one that failed this
# many times in a row on the same submission and tests (e.g. it kills every worker) stays recorded as failed
# until the submission, the tests or the grader change, or a run with --force.
MAX_GRADER_FAILURES = 2
RETRY_NOTE = "(the next run grades it again)"
FINAL_NOTE = (f"(failed {MAX_GRADER_FAILURES} runs in a row: not graded again until the submission, the tests or the "
              "grader change, or --force)")


class Gradebook:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used by one thread at a time: the coordinator's, then its writer thread, then again the
        # coordinator's once the writer has stopped (grader/recorder.py).
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self._batching = 0

    def is_current(self, student_id: str, assignment: str, submission_hash: str, tests_hash: str) -> bool:
        """Graded before, from the same submission and tests, and not stopped by a fault of the grader's own
        (``grader_failure``: a crashed worker, an internal error), which later runs try again, up to
        MAX_GRADER_FAILURES failures in a row."""
        row = self.db.execute("SELECT submission_hash, tests_hash, result_json FROM results "
                              "WHERE student_id=? AND assignment=?", (student_id, assignment)).fetchone()
        if row is None or row[:2] != (submission_hash, tests_hash):
            return False
        result = json.loads(row[2])
        return not result.get("grader_failure", False) or result.get("grader_failures", 1) >= MAX_GRADER_FAILURES

    def _count_failure(self, result: UnitResult, submission_hash: str, tests_hash: str) -> None:
        """Number a grader failure among the failures in a row of this unit (same hashes), and word its note."""
        row = self.db.execute("SELECT submission_hash, tests_hash, result_json FROM results "
                              "WHERE student_id=? AND assignment=?", (result.student_id, result.assignment)
                              ).fetchone()
        before = json.loads(row[2]) if row is not None and row[:2] == (submission_hash, tests_hash) else {}
        result.grader_failures = before.get("grader_failures", 1) + 1 if before.get("grader_failure") else 1
        if result.grader_failures >= MAX_GRADER_FAILURES:  # in place: the result files say the same
            result.status = result.status.replace(RETRY_NOTE, FINAL_NOTE)
            for test in result.tests:
                test.message = test.message.replace(RETRY_NOTE, FINAL_NOTE)

    def save(self, result: UnitResult, submission_hash: str, tests_hash: str) -> None:
        """Record one unit: committed at once, or with the rest of its batch (``batch``)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if not self._batching:
            with self.db:  # one transaction: the unit is either fully recorded or not at all
                self._insert(result, submission_hash, tests_hash, now)
            return
        with self.unit():  # inside the batch's transaction: still all of the unit or nothing
            self._insert(result, submission_hash, tests_hash, now)

    @contextmanager
    def unit(self) -> Iterator[None]:
        """Inside ``batch()``: what is saved in the block is kept only if all of it succeeds (a savepoint); the
        recorder writes a unit's files inside it, so a unit whose files could not be written leaves no row."""
        self.db.execute("SAVEPOINT unit")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO unit")
            raise
        finally:
            self.db.execute("RELEASE unit")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Units saved inside share one commit at the end: a coordinator that records a burst of results (a
        cluster's) pays one disk sync for all of them instead of one each."""
        if not self._batching and not self.db.in_transaction:
            self.db.execute("BEGIN")  # else releasing a unit's savepoint would commit it alone
        self._batching += 1
        try:
            yield
        finally:
            self._batching -= 1
            if not self._batching:
                self.db.commit()

    def _insert(self, result: UnitResult, submission_hash: str, tests_hash: str, now: str) -> None:
        if result.grader_failure:
            self._count_failure(result, submission_hash, tests_hash)
        self.db.execute(
            "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (result.student_id, result.assignment, submission_hash, tests_hash, result.score,
             result.max_score, result.status, int(result.needs_review), result.timestamp, now,
             json.dumps(result.to_dict(), ensure_ascii=False)))
        self.db.execute("DELETE FROM test_results WHERE student_id=? AND assignment=?",
                        (result.student_id, result.assignment))
        self.db.executemany("INSERT OR REPLACE INTO test_results VALUES (?,?,?,?,?,?,?)", [
            (result.student_id, result.assignment, t.name, t.points, t.max_points, t.outcome, t.message)
            for t in result.tests])

    def results(self) -> list[UnitResult]:
        rows = self.db.execute("SELECT result_json FROM results ORDER BY student_id, assignment").fetchall()
        return [UnitResult.from_dict(json.loads(r[0])) for r in rows]

    def close(self) -> None:
        self.db.close()
