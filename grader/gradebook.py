"""The gradebook: one SQLite file, written only by the coordinator, one commit per graded unit.

Each unit's row carries the content hashes of the submission and of the
tests, so a second run grades only what is missing or changed, and a run
killed midway loses nothing that was already committed.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

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


class Gradebook:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def is_current(self, student_id: str, assignment: str, submission_hash: str, tests_hash: str) -> bool:
        """Graded before, from the same submission and tests, and not stopped by a fault of the grader's own
        (``grader_failure``: a crashed worker, an internal error), which the next run tries again."""
        row = self.db.execute("SELECT submission_hash, tests_hash, result_json FROM results "
                              "WHERE student_id=? AND assignment=?", (student_id, assignment)).fetchone()
        if row is None or row[:2] != (submission_hash, tests_hash):
            return False
        return not json.loads(row[2]).get("grader_failure", False)

    def save(self, result: UnitResult, submission_hash: str, tests_hash: str) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.db:  # one transaction: the unit is either fully recorded or not at all
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
