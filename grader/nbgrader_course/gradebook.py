"""What the coordinator writes into the course's own nbgrader gradebook, and the CSV ``nbgrader export`` writes.

Only the coordinator (``grader/run.py``) calls this, once per recorded unit
(``record``) and once at the end of a run (``finish``, then ``export_csv``).
It follows what nbgrader's own autograde does through the public API
(``preprocessors/saveautogrades.py``, ``preprocessors/latesubmissions.py``):

- each exercise's grade cell gets ``auto_score`` = the points its hidden tests earned;
  ``manual_score`` and manual comments are never touched, and a grade a TA had
  overridden is marked ``needs_manual_grade`` again when its submission changes,
  exactly as nbgrader's ``SaveAutoGrades`` does;
- ⚑ needs-review, a unit not fully graded and a missing or unreadable
  ``timestamp.txt`` set the notebook's ``flagged`` (a TA's own flag is kept);
- at the end of every run, timestamps are read again and nbgrader's own
  ``AssignLatePenalties`` (with the course's configured plugin) recomputes every
  penalty, so a changed extension or due date counts even when no notebook changed;
- ``grades/grades.csv`` is written by nbgrader's own ``CsvExportPlugin``.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import nbformat

from grader.nbgrader_course import autograded
from grader.nbgrader_course.course import Course, course_for
from grader.nbgrader_course.exercises import grade_cell_of, points_by_exercise
from grader.course import assignment as kit_assignment
from grader.i18n import _


def read_timestamp(folder: Path | None) -> tuple[datetime | None, str]:
    """(UTC timestamp, "") from FOLDER/timestamp.txt by nbgrader's parse_utc, or (None, why it is unusable)."""
    from nbgrader.utils import parse_utc

    if folder is None:
        return None, "no submission folder"
    stamp = folder / "timestamp.txt"
    if stamp.is_symlink() or not stamp.is_file():
        return None, "no timestamp.txt"
    try:
        text = stamp.read_text(encoding="utf-8").strip()
        if not text:
            return None, "timestamp.txt is empty"
        return parse_utc(text), ""
    except (OSError, UnicodeDecodeError, ValueError, OverflowError) as err:
        return None, f"timestamp.txt is unreadable ({type(err).__name__}: {str(err)[:80]})"


class CourseGradebook:
    """The course's gradebook as the coordinator writes it: one ``record`` per graded unit, one ``finish`` per run."""

    def __init__(self, course: Course):
        self.course = course
        self.notes: list[str] = []
        self._grade_cells: dict[str, dict[str, str]] = {}
        self._points: dict[str, dict[str, float]] = {}
        self._checked_cells: set[str] = set()

    @classmethod
    def for_submissions(cls, submissions: Path) -> "CourseGradebook | None":
        """The gradebook of the course whose submitted folder SUBMISSIONS is; None for a plain folder."""
        course = course_for(submissions)
        return cls(course) if course is not None else None

    def _gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(self.course.db_url, self.course.course_id)

    def grade_cells(self, task: str) -> dict[str, str]:
        if task not in self._grade_cells:
            nb = nbformat.read(kit_assignment(task).source_notebook, as_version=4)
            self._grade_cells[task] = grade_cell_of(nb, str(kit_assignment(task).source_notebook))
            self._points[task] = points_by_exercise(task)
        return self._grade_cells[task]

    def _folder(self, student: str, task: str) -> Path:
        return self.course.folder("submitted_directory") / student / task

    # -- per unit ---------------------------------------------------------------------------------------------

    def record(self, unit, result: dict) -> None:
        """Write one graded unit: its auto scores, flag and the autograded notebook (nothing else is touched).

        A failure here is reported and the run goes on: the unit's result is already safe in grades/.
        """
        try:
            self._record(unit, result)
        except Exception as err:  # a locked or broken database must not stop the grading of the class
            self.notes.append(f"{result['student_id']}/{result['assignment']}: not written to the course's "
                              f"gradebook ({type(err).__name__}: {err}); its result is in grades/")

    def _record(self, unit, result: dict) -> None:
        from nbgrader.api import MissingEntry

        student, task = result["student_id"], result["assignment"]
        cells = self.grade_cells(task)
        earned = {exercise: 0.0 for exercise in cells}
        for test in result["tests"]:
            earned[test.get("exercise", "")] = earned.get(test.get("exercise", ""), 0.0) + test["points"]
        timestamp, why = read_timestamp(self._folder(student, task))
        with self._gradebook() as gb:
            try:
                gb.find_assignment(task)
            except MissingEntry:
                self.notes.append(f"{student}/{task}: assignment {task} is not in the course's gradebook "
                                  f"({self.course.db_url}); run `make release` (or `nbgrader generate_assignment "
                                  f"{task}`) first. Its result is in grades/ only.")
                return
            self._check_grade_cells(gb, task)
            try:
                gb.find_student(student)
            except MissingEntry:
                gb.add_student(student)
                self.notes.append(f"{student}: submitted {task} but is not on the course's roster; graded and added "
                                  f"to the gradebook (add their name and email with `nbgrader db student add`)")
            submission = gb.update_or_create_submission(task, student, timestamp=timestamp)
            notebook = gb.find_submission_notebook(task, task, student)
            by_cell = {cell: exercise for exercise, cell in cells.items()}
            for grade in notebook.grades:
                exercise = by_cell.get(grade.name)
                grade.auto_score = earned.get(exercise, 0.0) if exercise else 0.0
                grade.needs_manual_grade = grade.manual_score is not None  # as nbgrader's SaveAutoGrades
            nb = autograded.build(unit.path, self._release(task), result, cells)
            self._comment(notebook, nb)
            flag = result["needs_review"] or result["status"] != "graded" or timestamp is None
            notebook.flagged = bool(notebook.flagged) or bool(flag)
            submission.timestamp = timestamp
            gb.db.commit()
        destination = self.course.folder("autograded_directory") / student / task / f"{task}.ipynb"
        folder = self._folder(student, task)
        autograded.write(destination, nb, folder if folder.is_dir() else None, timestamp_ok=timestamp is not None)
        if timestamp is None:
            self.notes.append(f"{student}/{task}: {why}: graded and flagged, not penalised")
        earned_total = sum(earned.get(e, 0.0) for e in cells)
        if abs(earned_total - result["score"]) > 1e-9:
            self.notes.append(f"{student}/{task}: {result['score']:g} points from hidden tests but {earned_total:g} "
                              f"in grade cells: a hidden test names an exercise without a grade cell")

    def _release(self, task: str) -> Path:
        course_release = self.course.folder("release_directory") / task / f"{task}.ipynb"
        return course_release if course_release.is_file() else kit_assignment(task).release_notebook

    def _comment(self, notebook, nb: nbformat.NotebookNode) -> None:
        """nbgrader's automatic comment "No response." on a solution cell the student left as released."""
        from nbgrader.utils import compute_checksum, is_solution

        unchanged = {}
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if is_solution(cell) and meta.get("grade_id"):
                unchanged[meta["grade_id"]] = meta.get("checksum") == compute_checksum(cell)
        for comment in notebook.comments:
            comment.auto_comment = _("No response.") if unchanged.get(comment.name, False) else None

    def _check_grade_cells(self, gb, task: str) -> None:
        """The db's grade cells must carry the hidden tests' points; a stale db is corrected and reported."""
        from nbgrader.api import MissingEntry

        if task in self._checked_cells:
            return
        self._checked_cells.add(task)
        for exercise, cell_name in self.grade_cells(task).items():
            want = float(self._points[task].get(exercise, 0))
            try:
                cell = gb.find_grade_cell(cell_name, task, task)
            except MissingEntry:
                self.notes.append(f"{task}: grade cell {cell_name} (exercise {exercise}) is missing from the "
                                  f"course's gradebook; run `make release` to store it")
                continue
            if cell.max_score != want:
                self.notes.append(f"{task}: grade cell {cell_name} was worth {cell.max_score:g} in the gradebook, "
                                  f"the hidden tests give exercise {exercise} {want:g}; corrected")
                cell.max_score = want
        gb.db.commit()

    # -- per run ----------------------------------------------------------------------------------------------

    def finish(self, units: list, results: list[dict]) -> list[str]:
        """After a run: units missing from the gradebook recorded, timestamps re-read, every late penalty recomputed.

        Returns what a TA should know (students added, timestamps unusable, cells corrected).
        """
        from nbgrader.api import MissingEntry

        by_key = {(r["student_id"], r["assignment"]): r for r in results}
        with self._gradebook() as gb:
            known = set()
            for unit in units:
                try:
                    gb.find_submission(unit.assignment, unit.student_id)
                    known.add((unit.student_id, unit.assignment))
                except MissingEntry:
                    pass
        for unit in units:  # graded before but not in this gradebook (a new or reset database)
            key = (unit.student_id, unit.assignment)
            if key not in known and key in by_key:
                self.record(unit, by_key[key])
        self._sync_timestamps_and_penalties(units)
        return self.notes

    def _sync_timestamps_and_penalties(self, units: list) -> None:
        from nbgrader.api import MissingEntry
        from nbgrader.preprocessors import AssignLatePenalties

        present = []
        with self._gradebook() as gb:
            for unit in units:
                try:
                    submission = gb.find_submission(unit.assignment, unit.student_id)
                except MissingEntry:
                    continue
                timestamp, _ = read_timestamp(self._folder(unit.student_id, unit.assignment))
                if submission.timestamp != timestamp:
                    submission.timestamp = timestamp
                present.append(unit)
            gb.db.commit()
        penalties = AssignLatePenalties(config=self.course.config)
        empty = nbformat.v4.new_notebook()
        for unit in present:  # nbgrader's own preprocessor: its configured plugin, its clamping, its rounding
            resources = {"nbgrader": {"notebook": unit.assignment, "assignment": unit.assignment,
                                      "student": unit.student_id, "db_url": self.course.db_url}}
            penalties.preprocess(empty, resources)

    def class_context(self) -> tuple[list[str], dict[tuple[str, str], tuple[str, bool]]]:
        """The roster's student ids, and per (student, assignment) submission its due date (the assignment's plus
        the student's extension, naive UTC as nbgrader keeps it) and whether it came in late, for the class report."""
        with self._gradebook() as gb:
            roster = sorted(student.id for student in gb.students)
            due: dict[tuple[str, str], tuple[str, bool]] = {}
            for task in gb.assignments:
                for submission in task.submissions:
                    if submission.duedate is not None:
                        due[(submission.student.id, task.name)] = (str(submission.duedate),
                                                                   submission.total_seconds_late > 0)
        return roster, due

    def export_csv(self, path: Path) -> None:
        """PATH written by nbgrader's own CSV exporter: byte for byte what ``nbgrader export --to PATH`` writes."""
        from nbgrader.plugins import CsvExportPlugin

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        plugin = CsvExportPlugin(config=self.course.config)
        plugin.to = str(tmp)
        with self._gradebook() as gb:
            plugin.export(gb)
        os.replace(tmp, path)
