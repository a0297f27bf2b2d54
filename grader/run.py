"""The coordinator behind ``make grade``: find the units, grade them on parallel workers, record each at once.

Only this process writes ``grades/``. Workers are separate processes, each
with its own zygote, so a unit is a plain function call that a Dask worker
could run just as well (see DESIGN.md, "Built later").
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from grader.course import ASSIGNMENTS, assignment
from grader.gradebook import Gradebook
from grader.outputs import print_summary, write_csv, write_summary, write_unit
from grader.unit import Settings, collect_tests


@dataclass
class Unit:
    student_id: str
    assignment: str
    path: Path | None
    problems: list[str] = field(default_factory=list)
    timestamp: str | None = None

    def content_hash(self) -> str:
        digest = hashlib.sha256(self.assignment.encode())
        if self.path is not None and self.path.is_file() and not self.path.is_symlink():
            digest.update(self.path.name.encode())
            digest.update(self.path.read_bytes())
        else:
            digest.update(b"missing:" + str(self.path).encode())
        return digest.hexdigest()[:16]


def _timestamp(folder: Path) -> str | None:
    stamp = folder / "timestamp.txt"
    if stamp.is_symlink() or not stamp.is_file():  # a link could point at the hidden tests
        return None
    try:
        return stamp.read_text(encoding="utf-8").strip()[:64] or None
    except (OSError, UnicodeDecodeError):
        return None


def _find_notebook(folder: Path, task: str) -> tuple[Path | None, list[str]]:
    for name in (f"{task}.ipynb", f"{task}.py"):
        if (folder / name).exists() or (folder / name).is_symlink():
            return folder / name, []
    others = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if len(others) == 1:
        return others[0], [f"{folder.name}/{others[0].name}: expected the name {task}.ipynb; graded anyway"]
    if others:
        return None, [f"{folder}: several notebooks ({', '.join(p.name for p in others)}) and none named {task}.ipynb"]
    return None, [f"{folder}: no {task}.ipynb in this folder"]


def discover(root: Path) -> tuple[list[Unit], list[str]]:
    """Units in nbgrader's layout ROOT/<student>/<assignment>/<assignment>.ipynb, and what does not fit it."""
    units: list[Unit] = []
    problems: list[str] = []
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder {root} does not exist")
    for student_dir in sorted(root.iterdir()):
        if student_dir.name.startswith("."):
            continue
        if student_dir.is_symlink() or not student_dir.is_dir():
            problems.append(f"{student_dir}: expected a folder per student (SUBMISSIONS/<student>/<assignment>/"
                            f"<assignment>.ipynb); this entry was skipped")
            continue
        student = student_dir.name
        for entry in sorted(student_dir.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir() and not entry.is_symlink() and entry.name in ASSIGNMENTS:
                path, notes = _find_notebook(entry, entry.name)
                units.append(Unit(student, entry.name, path, notes, _timestamp(entry)))
            elif entry.is_file() and entry.stem in ASSIGNMENTS and entry.suffix in (".ipynb", ".py"):
                units.append(Unit(student, entry.stem, entry, [
                    f"{student}/{entry.name}: should be in a folder {student}/{entry.stem}/; graded anyway"]))
            else:
                known = [a for a in ASSIGNMENTS if a == entry.name.lower() or a == entry.stem.lower()]
                hint = f" (did you mean '{known[0]}'?)" if known else ""
                problems.append(f"{entry}: not an assignment of this course{hint}; skipped")
    return units, problems


class SandboxUnavailable(RuntimeError):
    """The sandbox asked for (``CNN_GRADER_SANDBOX``) cannot be built on this machine."""


def check_sandbox():
    """The sandbox mode (``SandboxMode``) the workers' zygotes will use; raises SandboxUnavailable, saying what the
    machine lacks, if the one asked for (or, by default, any) cannot be built."""
    from grader.sandbox.modes import SANDBOX_MODE_VARIABLE, IsolationError, choose_mode

    requested = os.environ.get(SANDBOX_MODE_VARIABLE) or "auto"
    try:
        return choose_mode(requested)
    except IsolationError as err:
        raise SandboxUnavailable(f"{SANDBOX_MODE_VARIABLE}={requested}: {err.strerror}") from None


SANDBOX_WARNINGS = {  # by SandboxMode value: what the TA should know about the sandbox this run got
    "none": "[bold red]warning:[/bold red] no sandbox (CNN_GRADER_SANDBOX=none): student code runs with the "
            "grader's rights and can read the hidden tests, change other students' grades and reach the network.",
    "userns": "note: not running as root: the sandbox used user namespaces (the same hidden files, no network, own "
              "processes; one uid for all slots, memory bounded per process only unless your cgroup is delegated).",
    "uid": "note: this machine allows no namespaces (a default container): each slot ran as its own uid under "
           "Landlock and seccomp; student code could see (not signal) the machine's processes in /proc; see the "
           "README, \"How grading works\", for what this mode does not protect.",
}


def _worker_init() -> None:
    """One thread per worker (workers fill the cores), and torch's lazy start-up paid before the first unit."""
    from grader.sandbox.zygote import warm_up
    from grader.unit import zygote

    warm_up()
    zygote()  # start this worker's zygote now, not inside the first student's time


def _grade(unit: Unit, settings: Settings) -> dict:
    from grader.unit import grade_unit

    if unit.path is None:
        return _not_graded(unit, "; ".join(unit.problems) or "no notebook found")
    result = grade_unit(unit.path, unit.assignment, unit.student_id, settings)
    result["problems"] = unit.problems + result["problems"]
    result["timestamp"] = unit.timestamp
    return result


def _not_graded(unit: Unit, why: str) -> dict:
    tests = [{**t, "message": f"not graded: {why}"} for t in collect_tests(assignment(unit.assignment))]
    return {"student_id": unit.student_id, "assignment": unit.assignment, "score": 0,
            "max_score": sum(t["max_points"] for t in tests), "status": f"not graded: {why}", "needs_review": False,
            "review_reasons": [], "cells": [], "problems": list(unit.problems), "tests": tests,
            "timestamp": unit.timestamp}


def _grader_failure(unit: Unit, why: str) -> dict:
    """Not graded through no fault of the student's: recorded (the run goes on), graded again by the next run."""
    return {**_not_graded(unit, why + " (the next run grades it again)"), "grader_failure": True}


@dataclass
class GradeRun:
    submissions: Path
    out: Path
    workers: int = 0
    force: bool = False
    only: tuple[str, ...] = ()
    settings: Settings = field(default_factory=Settings)
    console: Console = field(default_factory=lambda: Console(stderr=True))

    def run(self) -> list[dict]:
        mode = check_sandbox()  # before anything is graded: a run that cannot sandbox must not record zeros
        self.console.print(f"sandbox: {mode.value} ({mode.description})")
        units, problems = discover(self.submissions)
        if self.only:
            units = [u for u in units if u.assignment in self.only]
        book = Gradebook(self.out / "gradebook.db")
        hashes = {a: assignment(a).tests_hash() for a in {u.assignment for u in units}}
        todo = [u for u in units if self.force or not book.is_current(
            u.student_id, u.assignment, u.content_hash(), hashes[u.assignment])]
        self.console.print(f"{len(units)} submissions found, {len(units) - len(todo)} already graded and unchanged, "
                           f"{len(todo)} to grade")
        self._grade_all(todo, book, hashes)
        current = {(u.student_id, u.assignment) for u in units}
        results = [r for r in book.results() if (r["student_id"], r["assignment"]) in current]
        book.close()
        if mode.value in SANDBOX_WARNINGS:
            self.console.print(SANDBOX_WARNINGS[mode.value])
        write_csv(self.out, results)
        write_summary(self.out, results, problems)
        print_summary(results, problems, Console())
        return results

    def _record(self, book: Gradebook, unit: Unit, result: dict, hashes: dict) -> None:
        book.save(result, unit.content_hash(), hashes[unit.assignment])
        write_unit(self.out, result)
        seconds = result.get("seconds")
        self.console.print(f"  {unit.student_id}/{unit.assignment}: {result['score']:g}/{result['max_score']:g}"
                           + (f"  ({seconds:.2f} s)" if seconds is not None else "")
                           + ("  ⚑ needs review" if result["needs_review"] else "")
                           + ("" if result["status"] == "graded" else f"  [{result['status'][:80]}]"))

    def _grade_all(self, todo: list[Unit], book: Gradebook, hashes: dict) -> None:
        workers = self.workers or os.cpu_count() or 1
        attempts: dict[int, int] = {}
        pending = list(todo)
        while pending:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context,
                                     initializer=_worker_init) as pool:
                futures: dict[Future, Unit] = {pool.submit(_grade, unit, self.settings): unit for unit in pending}
                pending = []
                broken = False
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        unit = futures.pop(future)
                        try:
                            self._record(book, unit, future.result(), hashes)
                        except BrokenProcessPool:
                            broken = True
                            attempts[id(unit)] = attempts.get(id(unit), 0) + 1
                            if attempts[id(unit)] >= 2:
                                self._record(book, unit, _grader_failure(unit, "the grader's worker process died "
                                                                         "twice on this submission"), hashes)
                            else:
                                pending.append(unit)
                        except Exception as err:  # a grader bug must not lose the rest of the class
                            self._record(book, unit, _grader_failure(unit, f"internal grader error: "
                                                                     f"{type(err).__name__}: {err}"), hashes)
                    if broken:
                        break
                if broken:
                    pending.extend(futures.values())
