"""Grade one student × assignment: the unit of work, a plain function of (path, assignment) → results.

It runs in a trusted worker process that owns one zygote. The student's cells
run in a fresh sandboxed child; the hidden tests run here, in this process,
through ``grader.pytest_plugin``; the child only ever answers calls.
"""
from __future__ import annotations

import contextlib
import gc
import io
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import pytest
import torch

from grader import profiling
from grader.checks.cache import current_kit, forget_submissions, use_kit
from grader.course import Assignment, assignment as get_assignment, project_root
from grader.hidden_session import HiddenTestSession, SessionBroken
from grader.i18n import _, language, set_language
from grader.notebook import Cell, SubmissionError, check_expected_cells, read_cells, runnable_source
from grader.pytest_plugin import GradingPlugin, exercise_of, title_of
from grader.reference import load_reference
from grader.remote import Session, StudentNamespace
from grader.results import TestOutcome, UnitResult, not_graded, sandbox_mode
from grader.sandbox.client import Child, SandboxError, StudentRaised, StudentTimeout, Zygote
from grader.scan import scan_for_tampering
from grader.settings import DEFAULTS, Settings
from grader.similarity.fingerprints import fingerprint_unit
from grader.wire import Op, request

__all__ = ["Settings", "collect_tests", "grade_unit", "run_cells", "sandbox_config", "zygote"]


# pytest plugins a grading session does not need; unraisableexception alone costs two full gc passes per run, and
# capture, warnings, debugging, unittest, subtests and reports together 3.5 ms of each unit's session (the hidden
# tests use no capsys, recwarn, pdb, TestCase or subtests; the session's output is discarded anyway).
DISABLED_PLUGINS = [arg for name in ("cacheprovider", "stepwise", "unraisableexception", "threadexception",
                                     "faulthandler", "logging", "junitxml", "doctest", "pastebin", "legacypath",
                                     "tmpdir", "monkeypatch", "recwarn", "nose", "setuponly", "setupplan",
                                     "capture", "warnings", "debugging", "unittest", "subtests", "reports")
                    for arg in ("-p", f"no:{name}")]
# Nor the plugins other packages install (entry points: pytest-timeout, anyio, platformdirs here): finding them costs
# a scan of every installed distribution's metadata per session, pytest-timeout wraps every test, and a plugin the
# kit does not ship has no business in the trusted grading session.
NO_AUTOLOADED_PLUGINS = ["--disable-plugin-autoload"]
# --tb=no: a failed test's message comes from its exception (grader.pytest_plugin.student_message), never from
# pytest's formatted traceback, which --tb=native built for every failure (a third of a failing test's report).

_zygote: Zygote | None = None


def zygote() -> Zygote:
    """This worker's zygote, restarted if it died."""
    global _zygote
    if _zygote is None or not _zygote.alive():
        _zygote = Zygote()
    return _zygote


def sandbox_config(settings: Settings, scratch: Path, submission: Path | None = None) -> dict:
    """The child's settings; it hides the project (tests, solutions, grades) and the whole submissions folder."""
    hide = [str(project_root()), *settings.sandbox.get("hide", [])]
    if submission is not None and len(submission.resolve().parents) > 3:
        hide.append(str(submission.resolve().parents[2]))  # SUBMISSIONS/<student>/<assignment>/<file>
    return {**settings.sandbox, "hide": hide, "scratch": str(scratch), "cuda": torch.cuda.is_available()}


def run_cells(cells: list[Cell], fork, settings: Settings) -> tuple[Child, list[dict]]:
    """Run the gradable cells in order in a child; a cell that fails or hangs does not stop later cells.

    A cell that hangs past every signal gets the child killed; a new child then
    replays the cells that had run, skips the hung one and goes on.
    """
    reports: list[dict] = []
    done: list[tuple[Cell, str]] = []
    child = fork()
    for cell in cells:
        if cell.kind == "test":
            continue
        source = runnable_source(cell)
        report = {"cell": cell.label, "kind": cell.kind, "status": "ok", "message": "", "notes": list(cell.notes)}
        try:
            child.request(request(Op.RUN_CELL, label=cell.label, source=source), timeout=settings.cell_timeout)
            done.append((cell, source))
        except StudentRaised as err:
            report.update(status="error", message=str(err))
        except StudentTimeout:
            report.update(status="timeout",
                          message=_("this cell did not finish within {seconds:g} s and was stopped",
                                    seconds=settings.cell_timeout))
        except SandboxError as err:
            report.update(status="crashed", message=str(err))
            child = fork()
            for earlier, earlier_source in done:
                with contextlib.suppress(StudentRaised, SandboxError):
                    child.request(request(Op.RUN_CELL, label=earlier.label, source=earlier_source),
                                  timeout=settings.cell_timeout)
        reports.append(report)
    return child, reports


def collect_tests(task: Assignment, tests_hash: str | None = None) -> list[TestOutcome]:
    """The hidden tests and their points, without running them (for max scores and unreadable files)."""
    return [TestOutcome.from_dict(t) for t in _collected(task, tests_hash or task.tests_hash(), language())]


@lru_cache(maxsize=None)
def _collected(task: Assignment, tests_hash: str, lang: str) -> tuple[dict, ...]:
    plugin = GradingPlugin(student=None, reference=None)
    _run_pytest(task, plugin, collect_only=True)
    return tuple({"name": name, "title": title, "points": 0, "max_points": points, "exercise": exercise,
                  "outcome": "error", "message": ""} for name, title, points, exercise in plugin.collected)


def _pytest_args(task: Assignment) -> list[str]:
    return [str(task.tests), "-q", "--assert=plain", "--tb=no", *DISABLED_PLUGINS, *NO_AUTOLOADED_PLUGINS,
            "-o", "addopts=", "-o", "python_files=test_*.py", "--rootdir", str(task.tests.parent), "-c", "/dev/null",
            "-W", "ignore"]


def _run_pytest(task: Assignment, plugin: GradingPlugin, collect_only: bool = False, extra: tuple = ()) -> int:
    args = _pytest_args(task)
    if collect_only:
        args.append("--collect-only")
        plugin.collected = []

        class Collector:
            def pytest_collection_modifyitems(self, items):
                seen = set()
                for item in items:
                    name = getattr(item, "originalname", item.name)
                    if name not in seen:
                        seen.add(name)
                        marker = item.get_closest_marker("points")
                        plugin.collected.append((name, title_of(item), marker.args[0] if marker else 0,
                                                 exercise_of(item)))

        extra = (*extra, Collector())
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return pytest.main(args, plugins=[plugin, *extra])


# This worker's hidden-test sessions, by (assignment, kit, language); None where one could not be set up (the
# units of that kit then run pytest.main each, as before).
_sessions: dict[tuple[str, str, str], HiddenTestSession | None] = {}


def run_hidden_tests(task: Assignment, kit: str, student, reference, submission: dict,
                     extra: tuple = ()) -> list[dict]:
    """The hidden tests' results for one unit, from this worker's session for the kit (grader.hidden_session)."""
    key = (task.id, kit, language())
    if key not in _sessions:
        for old in [k for k in _sessions if k[0] == task.id and k[1] != kit]:  # an older kit's: finished, not kept
            if _sessions[old] is not None:
                _sessions[old].close()
            del _sessions[old]
        try:
            _sessions[key] = HiddenTestSession(_pytest_args(task), GradingPlugin(None, None))
        except SessionBroken:
            _sessions[key] = None
    hidden = _sessions[key]
    if hidden is None:
        plugin = GradingPlugin(student, reference, submission=submission)
        _run_pytest(task, plugin, extra=extra)
        return plugin.results()
    hidden.plugin.begin(student, reference, submission)
    try:
        hidden.run(extra)
    except SessionBroken:  # as pytest.main after an internal error: what was recorded counts; a new session next
        _sessions.pop(key, None)
    return hidden.plugin.end()


@lru_cache(maxsize=None)
def _reference(assignment_id: str, tests_hash: str):
    """The reference solution, loaded again when the kit's hash changes (a changed solution notebook)."""
    return load_reference.__wrapped__(assignment_id)


def grade_unit(path: Path, assignment_id: str, student_id: str, settings: Settings | None = None) -> UnitResult:
    settings = settings or DEFAULTS
    set_language(settings.lang)
    if not profiling.enabled():
        result = _grade_unit(path, assignment_id, student_id, settings, None)
    else:
        with profiling.profiling(assignment_id, student_id) as profile:  # grader.profiling: where the time goes
            result = _grade_unit(path, assignment_id, student_id, settings, profile)
    forget_submissions()
    _settle_heap_once(current_kit())
    return result


_settled_kits: set[str] = set()


def _settle_heap_once(kit: str | None) -> None:
    """After a worker's first unit of an assignment (of this kit), collect once and freeze what is alive.

    A worker holds torch, pytest, the reference solutions and the hidden tests' cached reference results: some
    360,000 objects that live as long as it does. Every full collection walked them all, 200 ms each, about
    every dozen units; frozen (``gc.freeze``), a full collection walks only what later units leave behind
    (about 18 ms). The heap's long-lived part grows with each assignment's first unit, so it is settled then, once,
    after the unit's per-submission values are dropped and garbage collected, so that nothing of one
    student's is frozen with it. Not in the unit's own seconds: a worker's one-time cost, like its start.
    """
    if kit in _settled_kits:
        return
    _settled_kits.add(kit)
    gc.collect()
    gc.freeze()


def _grade_unit(path: Path, assignment_id: str, student_id: str, settings: Settings,
                profile: profiling.UnitProfile | None) -> UnitResult:
    task = get_assignment(assignment_id)
    started = time.monotonic()
    kit = task.tests_hash()
    use_kit(kit)  # reference results cached by the hidden tests belong to this kit (grader/checks/cache.py)
    tests = collect_tests(task, kit)
    try:
        cells = read_cells(path, max_file_bytes=settings.max_file_bytes, max_source_bytes=settings.max_source_bytes)
    except SubmissionError as err:
        return not_graded(student_id, task.id, tests, str(err))
    result = UnitResult(student_id, task.id, max_score=sum(t.max_points for t in tests), tests=tests,
                        problems=check_expected_cells(cells, task.solution_ids()))
    for reason in scan_for_tampering(cells):
        result.flag(reason)
    result.fingerprints = fingerprint_unit(cells, task.release_notebook)  # for the similar-code report
    # Once per worker and kit, and before the first fork: a worker that started its zygote early (a Gradescope
    # run: one unit) loads the reference while the zygote is still starting instead of after it.
    reference = _reference(task.id, kit)
    scratch = Path(tempfile.mkdtemp(prefix="cnn-grade-"))
    try:
        fork = lambda: zygote().fork(sandbox_config(settings, scratch, Path(path)))  # noqa: E731
        with profile.cells() if profile else contextlib.nullcontext():
            child, result.cells = run_cells(cells, profile.timed_fork(fork) if profile else fork, settings)
        result.sandbox_mode = sandbox_mode(zygote().mode)
        session = Session(child, call_timeout=settings.call_timeout, budget=settings.submission_budget)
        with profile.hidden_tests() if profile else contextlib.nullcontext():
            outcomes = run_hidden_tests(task, kit, StudentNamespace(session), reference,
                                        {c.label: c.source for c in cells},
                                        extra=(profiling.ProfilePlugin(profile),) if profile else ())
        result.tests = [TestOutcome.from_dict(t) for t in outcomes] or tests
        result.student_output = "".join(child.output)[-4000:]
        if child.dead and child.dead != "finished":
            result.status = f"graded (the sandbox stopped: {child.dead})"
        child.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.seconds = round(time.monotonic() - started, 3)
    return result
