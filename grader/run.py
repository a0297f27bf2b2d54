"""The coordinator behind ``make grade``: find the units, grade them on parallel workers, record each at once.

Only this process writes ``grades/``. Workers are separate processes, each
with its own zygote, so a unit is a plain function call that another backend
(a Dask worker) could run just as well. Nothing a TA dropped into the
submissions folder vanishes: a student folder the grader cannot grade still
gets its rows (0, with the reason, flagged for review), and a stray file is
listed in the run's output and the class summary.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console

from grader.backends import make_backend
from grader.course import Course, assignment, course
from grader.gradebook import Gradebook
from grader.i18n import set_language
from grader.nbgrader_course.gradebook import CourseGradebook
from grader.outputs import print_summary, write_csv, write_summary
from grader.progress import RunProgress
from grader.recorder import Recorder
from grader.results import UnitResult, not_graded, sandbox_mode
from grader.sandbox.modes import SandboxMode
from grader.settings import DEFAULTS, Settings
from grader.unit import collect_tests


@dataclass
class Unit:
    student_id: str
    assignment: str
    path: Path | None
    problems: list[str] = field(default_factory=list)
    timestamp: str | None = None
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)

    def content_hash(self) -> str:
        """The submission's hash, read once: the file as the run found it (a file changed during the run is then
        graded again by the next one)."""
        if self._hash is None:
            self._hash = self._read_hash()
        return self._hash

    def _read_hash(self) -> str:
        digest = hashlib.sha256(self.assignment.encode())
        if self.path is not None and self.path.is_file() and not self.path.is_symlink():
            digest.update(self.path.name.encode())
            try:
                digest.update(self.path.read_bytes())
            except OSError as err:  # unreadable: graded (and refused with the reason) again once it is readable
                digest.update(f"unreadable:{err.errno}".encode())
        else:  # nothing to read: the reason is what the row shows, so a changed reason re-records it
            digest.update(b"missing:" + str(self.path).encode() + "\n".join(self.problems).encode())
        return digest.hexdigest()[:16]


def _timestamp(folder: Path) -> str | None:
    stamp = folder / "timestamp.txt"
    try:
        if stamp.is_symlink() or not stamp.is_file():  # a link could point at the hidden tests
            return None
        return stamp.read_text(encoding="utf-8").strip()[:64] or None
    except (OSError, UnicodeDecodeError):  # an unreadable folder or file: no timestamp, the unit still counts
        return None


def _listing(folder: Path) -> tuple[list[Path] | None, str]:
    """The folder's entries as the grader's own user sees them, or None and why it cannot list them."""
    try:
        return sorted(folder.iterdir()), ""
    except OSError as err:
        return None, err.strerror or type(err).__name__


def _find_notebook(folder: Path, name: str) -> tuple[Path | None, list[str]]:
    entries, why = _listing(folder)
    if entries is None:
        return None, [f"{folder}: the grader cannot read this folder ({why})"]
    stem = Path(name).stem
    for wanted in (name, f"{stem}.py"):
        if (folder / wanted).exists() or (folder / wanted).is_symlink():
            return folder / wanted, []
    others = [p for p in entries if p.suffix == ".ipynb" and not p.name.startswith(".")]
    if len(others) == 1:
        return others[0], [f"{folder.name}/{others[0].name}: expected the name {name}; graded anyway"]
    if others:
        return None, [f"{folder}: several notebooks ({', '.join(p.name for p in others)}) and none named {name}"]
    return None, [f"{folder}: no {name} in this folder"]


def _student_units(folder: Path, entries: list[Path], the_course: Course) -> tuple[list[Unit], list[str]]:
    """The units in one student's folder, and what in it is not an assignment of the course."""
    units: list[Unit] = []
    problems: list[str] = []
    student, ids = folder.name, the_course.ids
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink() and entry.name in ids:
            path, notes = _find_notebook(entry, the_course[entry.name].notebook_name)
            units.append(Unit(student, entry.name, path, notes, _timestamp(entry)))
        elif entry.is_file() and entry.stem in ids and entry.suffix in (".ipynb", ".py"):
            units.append(Unit(student, entry.stem, entry, [
                f"{student}/{entry.name}: should be in a folder {student}/{entry.stem}/; graded anyway"]))
        else:
            known = [a for a in ids if a == entry.name.lower() or a == entry.stem.lower()]
            hint = f" (did you mean '{known[0]}'?)" if known else ""
            problems.append(f"{entry}: not an assignment of this course{hint}; skipped")
    return units, problems


def discover(root: Path) -> tuple[list[Unit], list[str]]:
    """Units in nbgrader's layout ROOT/<student>/<assignment>/<assignment>.ipynb, and what does not fit it.

    A student folder the grader cannot grade at all (a symbolic link, unreadable,
    no notebook of the course) still yields one unit per assignment, without a
    file, so that the student keeps a row. A file at the top of ROOT is not a
    student: it is only reported.
    """
    the_course = course()
    units: list[Unit] = []
    problems: list[str] = []
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder {root} does not exist")

    def skip(student: str, why: str) -> None:
        problems.append(f"{why}; recorded as 0 for every assignment and flagged for review")
        units.extend(Unit(student, task, None, [why]) for task in the_course.ids)

    top, why = _listing(root)
    if top is None:
        raise FileNotFoundError(f"submissions folder {root} cannot be read ({why})")
    for student_dir in top:
        name = student_dir.name
        if name.startswith("."):
            continue
        if student_dir.is_symlink() and not student_dir.is_file():  # never followed: it could lead anywhere
            skip(name, f"{student_dir}: the student folder is a symbolic link, which the grader does not follow; "
                       "copy the folder itself into the submissions folder")
        elif not student_dir.is_dir():
            problems.append(f"{student_dir}: a file at the top of the submissions folder is not a student "
                            "(each student is a folder: SUBMISSIONS/<student>/<assignment>/<assignment>.ipynb); "
                            "not graded")
        else:
            entries, why = _listing(student_dir)
            if entries is None:
                skip(name, f"{student_dir}: the grader cannot read this student folder ({why})")
                continue
            found, notes = _student_units(student_dir, entries, the_course)
            problems.extend(notes)
            if found:
                units.extend(found)
            else:
                skip(name, f"{student_dir}: no notebook of this course in this student folder"
                           + (" (see the entries reported above)" if notes else ""))
    return units, problems


class SandboxUnavailable(RuntimeError):
    """The sandbox asked for (``CNN_GRADER_SANDBOX``) cannot be built on this machine."""


def check_sandbox() -> SandboxMode:
    """The sandbox mode (``SandboxMode``) the workers' zygotes will use; raises SandboxUnavailable, saying what the
    machine lacks, if the one asked for (or, by default, any) cannot be built."""
    from grader.sandbox.modes import SANDBOX_MODE_VARIABLE, IsolationError, choose_mode, requested_mode

    requested = requested_mode()
    try:
        return sandbox_mode(choose_mode(requested))
    except IsolationError as err:
        raise SandboxUnavailable(f"{SANDBOX_MODE_VARIABLE}={requested}: {err.strerror}") from None


def _not_graded(unit: Unit, why: str) -> UnitResult:
    """A row for a unit that was not graded; one without any file to grade is flagged for a TA."""
    result = not_graded(unit.student_id, unit.assignment, collect_tests(assignment(unit.assignment)), why,
                        problems=unit.problems, timestamp=unit.timestamp)
    if unit.path is None:
        result.flag(f"nothing of this student's was graded here: {why}")
    return result


def _grader_failure(unit: Unit, why: str) -> UnitResult:
    """Not graded through no fault of the student's: recorded (the run goes on), graded again by the next run."""
    return replace(_not_graded(unit, why + " (the next run grades it again)"), grader_failure=True)


# What the TA is told when a weaker sandbox than the full one graded the class, from the weakest.
MODE_NOTES = {
    SandboxMode.NONE: "[bold red]warning:[/bold red] no sandbox (CNN_GRADER_SANDBOX=none): student code ran with the "
                      "grader's rights and could read the hidden tests, change other students' grades and reach the "
                      "network.",
    SandboxMode.UID: "note: this machine allows no namespaces (a default container): each slot ran as its own uid "
                     "under Landlock and seccomp; student code could see (not signal) the machine's processes in "
                     "/proc; see the README, \"How grading works\", for what this mode does not protect.",
    SandboxMode.CONTAINER: "note: root without CAP_SYS_ADMIN (a container): each slot dropped to a uid of its own, "
                           "then built the user-namespace sandbox.",
    SandboxMode.USERNS: "note: not running as root: the sandbox used user namespaces (the same hidden files, no "
                        "network, own processes; one uid for all slots, memory bounded per process only unless your "
                        "cgroup is delegated).",
}


@dataclass
class GradeRun:
    submissions: Path
    out: Path = DEFAULTS.out
    workers: int = DEFAULTS.workers
    force: bool = False
    only: tuple[str, ...] = ()
    settings: Settings = DEFAULTS
    cluster: str | None = None  # a Dask scheduler address or local:N (grader/backends/dask.py); None: local pool
    console: Console = field(default_factory=lambda: Console(stderr=True))
    _course: CourseGradebook | None = field(default=None, init=False, repr=False)  # set by run() in a course

    def run(self) -> list[UnitResult]:
        set_language(self.settings.lang)  # the coordinator writes feedback pages and the report in it
        backend = make_backend(self.cluster, self.workers, self.console)
        mode = backend.check()  # before anything is graded: a run that cannot sandbox must not record zeros
        if mode is not None:  # a cluster's workers report their own modes as they join
            self.console.print(f"sandbox: {mode.value} ({mode.description})")
        units, problems = discover(self.submissions)
        if self.only:
            units = [u for u in units if u.assignment in self.only]
        book = Gradebook(self.out / "gradebook.db")
        self._course = CourseGradebook.for_submissions(self.submissions)  # None unless SUBMISSIONS is a course's
        hashes = {a: assignment(a).grading_key(self.settings.lang) for a in {u.assignment for u in units}}
        todo = [u for u in units if self.force or not book.is_current(
            u.student_id, u.assignment, u.content_hash(), hashes[u.assignment])]
        self.console.print(f"{len(units)} submissions found, {len(units) - len(todo)} already graded and unchanged, "
                           f"{len(todo)} to grade")
        try:
            with Recorder(book, self.out, self.console, self._course) as recorder:  # drained even on an error
                for unit in [u for u in todo if u.path is None]:  # nothing to run: recorded here, not on a worker
                    self._record(recorder, unit, _not_graded(unit, "; ".join(unit.problems) or "no notebook found"),
                                 hashes)
                todo = [u for u in todo if u.path is not None]
                with RunProgress(self.console, len(todo)) as progress:
                    backend.grade(todo, self.settings,
                                  lambda unit, result: self._record(recorder, unit, result, hashes), progress)
        finally:
            backend.close()
        current = {(u.student_id, u.assignment) for u in units}
        results = [r for r in book.results() if (r.student_id, r.assignment) in current]
        book.close()
        modes = {r.sandbox_mode for r in results}
        weakest = next((mode for mode in MODE_NOTES if mode in modes), None)
        if weakest is not None:
            self.console.print(MODE_NOTES[weakest])
        roster = None
        if self._course is not None:  # the course's nbgrader gradebook: penalties, roster, `nbgrader export`'s CSV
            problems += self._course.finish(units, results)
            self._course.export_csv(self.out / "grades.csv")
            roster, due = self._course.class_context()
            for result in results:  # the report's missing and late lists
                result.duedate, result.late = due.get((result.student_id, result.assignment), (None, None))
        else:
            write_csv(self.out, results)
        write_summary(self.out, results, problems, roster)
        print_summary(results, problems, Console())
        return results

    def _record(self, recorder: Recorder, unit: Unit, result: UnitResult, hashes: dict) -> None:
        """Hand a graded unit to the run's recorder (grader/recorder.py), which writes it to grades/."""
        recorder.record(unit, result, unit.content_hash(), hashes[unit.assignment])
