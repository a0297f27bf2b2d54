"""Typed results: one ``TestOutcome`` per hidden test, one ``UnitResult`` per student × assignment.

Everything the grader records is built here. Two plain-data forms leave it:
``UnitResult.public()`` is the results JSON (``grades/results/<student>/<assignment>.json``,
the format in docs/results-format.md, which exporters read); ``to_dict()`` adds what
the grader keeps for itself (problems, the sandbox mode, timings, the student's
output, per-test titles and exercises) and is what the gradebook stores and
``from_dict()`` reads back, also across process boundaries.

Reading a result by its JSON key (``result["score"]``, ``test["outcome"]``) is
allowed, read-only, for code that treats results as the JSON they become.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal, TypedDict

from grader.i18n import _
from grader.sandbox.modes import SandboxMode

Outcome = Literal["passed", "failed", "error", "skipped"]


class CellReport(TypedDict):
    """What happened to one notebook cell the grader ran (``grader.unit.run_cells``)."""

    cell: str  # the grade_id, or "cell N"
    kind: str  # "solution", "setup" or "other"
    status: str  # "ok", "error", "timeout" or "crashed"
    message: str
    notes: list[str]


class _ReadByKey:
    """``obj["key"]`` and ``obj.get("key")`` read the attribute of that name, as in the JSON the object becomes."""

    _KEYS: ClassVar[frozenset[str]] = frozenset()

    def __getitem__(self, key: str) -> Any:
        if key not in self._KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self._KEYS else default


@dataclass
class TestOutcome(_ReadByKey):
    """One hidden test: the points it earned and what it says to the student."""

    __test__: ClassVar[bool] = False  # a result, not a pytest test class

    name: str
    max_points: float
    points: float = 0
    outcome: Outcome = "error"
    message: str = ""
    title: str = ""
    exercise: str = ""
    """The grade_id of the one exercise this test grades (the hidden test's marker); "" where it has none."""
    confirmed_by: tuple[str, ...] = ()
    """Behavioural tests that must pass before this structural test is credited."""

    PUBLIC_KEYS: ClassVar[tuple[str, ...]] = ("name", "points", "max_points", "outcome", "message")

    def public(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.PUBLIC_KEYS}

    def to_dict(self) -> dict[str, Any]:
        # field by field: dataclasses.asdict deep-copies, and the coordinator records hundreds of units a second
        data = {name: getattr(self, name) for name in _TEST_FIELDS}
        data["confirmed_by"] = list(self.confirmed_by)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestOutcome:
        """From ``to_dict()``'s or the public form (keys this version does not know are left out)."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["confirmed_by"] = tuple(values.get("confirmed_by") or ())
        return cls(**values)

    def not_graded(self, why: str) -> TestOutcome:
        """This test, unrun: no points, and the reason the whole unit was not graded."""
        return replace(self, points=0, outcome="error", message=_("not graded: {why}", why=why))


TestOutcome._KEYS = frozenset(f.name for f in fields(TestOutcome))
_TEST_FIELDS = tuple(f.name for f in fields(TestOutcome))


@dataclass
class UnitResult(_ReadByKey):
    """One student × assignment. ``score`` is always the sum of the tests' points."""

    student_id: str
    assignment: str
    max_score: float
    tests: list[TestOutcome] = field(default_factory=list)
    status: str = "graded"
    """"graded", or what stopped it (``not graded: <why>``)."""
    needs_review: bool = False
    review_reasons: list[str] = field(default_factory=list)
    cells: list[CellReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """What is wrong with the submission's shape (missing cells, a misplaced file); shown on the feedback page."""
    student_output: str = ""
    sandbox_mode: SandboxMode | None = None
    timestamp: str | None = None
    seconds: float = 0.0
    grader_failure: bool = False
    """Not graded through a fault of the grader's own: the next run grades it again."""
    duedate: str | None = None
    """The due date that applies to this student (the assignment's, plus an extension), where a course has one."""
    late: bool | None = None
    """Submitted after ``duedate`` (nbgrader's own reckoning); None where no due date is known."""
    grader_failures: int = 0
    """Grader failures in a row on this same submission and kit; the run after the limit stops retrying it."""
    fingerprints: dict | None = None
    """Winnowed fingerprints of the student's own code per exercise (grader.similarity), for the class report."""
    page: str | None = field(default=None, repr=False, compare=False)
    """The student's feedback page, rendered by the worker that graded the unit (``grader.outputs.with_page``),
    so the coordinator's writer only writes it; never saved in the gradebook or the results JSON."""

    PUBLIC_KEYS: ClassVar[tuple[str, ...]] = ("student_id", "assignment", "score", "max_score", "status",
                                              "needs_review", "review_reasons", "cells", "tests")

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def sandbox(self) -> str | None:
        """The sandbox mode in words, as results have always carried it."""
        return self.sandbox_mode.description if self.sandbox_mode is not None else None

    def flag(self, reason: str) -> None:
        """Ask a TA to look at this unit, saying why."""
        self.needs_review = True
        self.review_reasons.append(reason)

    def public(self) -> dict[str, Any]:
        """The results JSON, exactly its documented keys."""
        data = {key: getattr(self, key) for key in self.PUBLIC_KEYS}
        data["cells"] = [dict(c) for c in self.cells]
        data["tests"] = [t.public() for t in self.tests]
        return data

    def to_dict(self) -> dict[str, Any]:
        data = self.public()
        data.update(problems=list(self.problems), tests=[t.to_dict() for t in self.tests],
                    student_output=self.student_output, sandbox=self.sandbox,
                    sandbox_mode=self.sandbox_mode.value if self.sandbox_mode is not None else None,
                    timestamp=self.timestamp, seconds=self.seconds, grader_failure=self.grader_failure,
                    grader_failures=self.grader_failures, fingerprints=self.fingerprints, duedate=self.duedate,
                    late=self.late)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnitResult:
        """From ``to_dict()``'s form (or an older gradebook row: only the sandbox's description, no mode)."""
        mode = data.get("sandbox_mode")
        return cls(student_id=data["student_id"], assignment=data["assignment"], max_score=data["max_score"],
                   tests=[TestOutcome.from_dict(t) for t in data.get("tests", [])],
                   status=data.get("status", "graded"), needs_review=bool(data.get("needs_review", False)),
                   review_reasons=list(data.get("review_reasons", [])),
                   cells=[CellReport(**c) for c in data.get("cells", [])],
                   problems=list(data.get("problems", [])), student_output=data.get("student_output", ""),
                   sandbox_mode=sandbox_mode(mode) if mode else _mode_described(data.get("sandbox")),
                   timestamp=data.get("timestamp"), seconds=data.get("seconds") or 0.0,
                   grader_failure=bool(data.get("grader_failure", False)),
                   grader_failures=int(data.get("grader_failures") or 0), fingerprints=data.get("fingerprints"),
                   duedate=data.get("duedate"), late=data.get("late"))


UnitResult._KEYS = frozenset({f.name for f in fields(UnitResult)} | {"score", "sandbox"})


def not_graded(student_id: str, assignment: str, tests: list[TestOutcome], why: str, *,
               problems: list[str] | None = None, timestamp: str | None = None) -> UnitResult:
    """A unit that could not be graded at all: every test unrun, the reason in the status and in each test."""
    return UnitResult(student_id, assignment, max_score=sum(t.max_points for t in tests),
                      tests=[t.not_graded(why) for t in tests], status=f"not graded: {why}",
                      problems=list(problems or []), timestamp=timestamp)


NOT_GRADED, SANDBOX_STOPPED = "not graded: ", "graded (the sandbox stopped: "
"""How a status starts (docs/results-format.md): the results JSON keeps these words in English for the programs
that read it; ``status_text`` words a status for a student."""


def status_text(status: str) -> str:
    """A unit's status as a student reads it, in the run's language (the status itself stays English)."""
    if status == "graded":
        return _("graded")
    if status.startswith(NOT_GRADED):
        return _("not graded: {why}", why=status[len(NOT_GRADED):])
    if status.startswith(SANDBOX_STOPPED) and status.endswith(")"):
        return _("graded (the sandbox stopped: {why})", why=status[len(SANDBOX_STOPPED):-1])
    return status


# The names the sandbox reported before SandboxMode existed; "limits" isolated nothing beyond resource limits.
_LEGACY_MODES = {"limits": SandboxMode.NONE}


def sandbox_mode(value: str | SandboxMode) -> SandboxMode:
    """The mode a zygote or ``choose_mode`` reports, as the enum."""
    if isinstance(value, SandboxMode):
        return value
    return _LEGACY_MODES.get(value) or SandboxMode(value)


def _mode_described(description: str | None) -> SandboxMode | None:
    """The mode whose description this is exactly (gradebook rows written before the mode was stored)."""
    return next((mode for mode in SandboxMode if mode.description == description), None)
