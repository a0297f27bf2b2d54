"""What a TA reads after a deadline, computed from the results alone (one dict per student × assignment).

Nothing here grades: it counts. The pages (``grader.report.pages``) only lay these numbers out.
"""
from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

from grader.i18n import ENGLISH, LANGUAGES, messages, translations

_, _n = messages("report")

LIKELY_CAUSE_MESSAGE = "Likely cause: {hint}"
"""The grader's message (domain ``grader``) that names a likely cause; the report counts its {hint}s."""
LIKELY_CAUSE_FALLBACK = {"ko": "예상 원인: {hint}"}
"""The glossary's wording, for a catalog that does not translate the message yet."""


@dataclass
class Failure:
    student: str
    outcome: str
    message: str  # the first line of the student's message


@dataclass
class TestStat:
    name: str
    title: str
    max_points: float
    attempts: int = 0
    passed: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.attempts if self.attempts else 0.0

    def by_message(self) -> list[tuple[str, list[str]]]:
        """(first line of the message, the students who got it), the most frequent message first."""
        groups: dict[str, list[str]] = defaultdict(list)
        for f in self.failures:
            groups[f.message or f.outcome].append(f.student)
        return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


@dataclass
class Cause:
    text: str
    students: int
    tests: list[str]


@dataclass
class Late:
    student: str
    timestamp: str
    duedate: str
    by: str  # "2 h 5 min" or "" when only the result's "late" flag is known


@dataclass
class AssignmentStat:
    id: str
    max_score: float = 0
    scores: list[float] = field(default_factory=list)
    tests: list[TestStat] = field(default_factory=list)   # lowest pass rate first
    causes: list[Cause] = field(default_factory=list)     # most frequent first
    review: list[tuple[str, list[str]]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    late: list[Late] = field(default_factory=list)
    due_known: int = 0  # results that carry a due date (0: the late list cannot be told)
    not_graded: list[tuple[str, str]] = field(default_factory=list)
    seconds: list[tuple[float, str]] = field(default_factory=list)  # (seconds, student), slowest first

    @property
    def submitted(self) -> int:
        return len(self.scores)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0

    @property
    def full_marks(self) -> int:
        return sum(1 for s in self.scores if self.max_score and s >= self.max_score)

    def seconds_percentile(self, q: float) -> float:
        values = sorted(s for s, _ in self.seconds)
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


@dataclass
class StudentRow:
    id: str
    results: dict[str, dict]
    total: float
    max_total: float


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0][:300] if (text or "").strip() else ""


def parse_time(value) -> datetime | None:
    """A timestamp or due date as nbgrader writes them ("2025-01-01 12:00:00.000000 UTC", ISO 8601); naive = UTC."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:  # nbgrader's own form, fast: "2025-01-01 12:00:00.000000 UTC"
        moment = datetime.fromisoformat(text.removesuffix(" UTC").removesuffix("Z"))
    except ValueError:
        from dateutil import parser  # matplotlib's own dependency: every other form nbgrader and LMSs write

        try:
            moment = parser.parse(text)
        except (ValueError, OverflowError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("{days} d {hours} h {minutes} min", days=days, hours=hours, minutes=mins)
    if hours:
        return _("{hours} h {minutes} min", hours=hours, minutes=mins)
    return _("{minutes} min", minutes=mins)


def _cause_pattern(template: str) -> str:
    """``"Likely cause: {hint}"`` -> ``r"Likely cause: (.+)"``: the words around {hint} literally, the hint captured."""
    before, _hint, after = template.partition("{hint}")
    return re.escape(before) + "(.+)" + (re.escape(after.rstrip()) if after.strip() else "")


@lru_cache(maxsize=None)
def likely_cause() -> re.Pattern:
    """Finds the likely cause in a failure message written in any of the kit's languages.

    A class may hold results graded in English and in Korean (a re-run with ``--lang ko`` grades only what
    changed), so the pattern knows every language's wording: the grader catalog's translation of
    ``LIKELY_CAUSE_MESSAGE``, or the glossary's where the catalog does not have it yet.
    """
    wordings = [LIKELY_CAUSE_MESSAGE]
    for lang in LANGUAGES:
        if lang == ENGLISH:
            continue
        translated = translations("grader", lang).gettext(LIKELY_CAUSE_MESSAGE)
        usable = translated != LIKELY_CAUSE_MESSAGE and translated.count("{hint}") == 1
        wordings.append(translated if usable else LIKELY_CAUSE_FALLBACK.get(lang, LIKELY_CAUSE_MESSAGE))
    alternatives = list(dict.fromkeys(_cause_pattern(w) for w in wordings))
    if len(alternatives) == 1:
        return re.compile(alternatives[0])
    # one group per wording; findall then gives tuples: the one non-empty member is the cause
    return re.compile("|".join(alternatives))


def likely_causes(message: str) -> list[str]:
    """Every likely cause the message names, in the order it names them, stripped."""
    found = likely_cause().findall(message or "")
    return [(item if isinstance(item, str) else next(part for part in item if part)).strip() for item in found]


def lateness(result: dict) -> Late | None:
    """Late when the result says so ("late": true) or its timestamp is after its due date ("duedate")."""
    stamp, due = parse_time(result.get("timestamp")), parse_time(result.get("duedate"))
    flagged = result.get("late")
    if stamp and due and stamp > due:
        return Late(result["student_id"], result.get("timestamp") or "", result.get("duedate") or "",
                    _duration((stamp - due).total_seconds()))
    if flagged is True:
        return Late(result["student_id"], result.get("timestamp") or "", result.get("duedate") or "", "")
    return None


def assignment_stats(task: str, results: list[dict], roster: list[str]) -> AssignmentStat:
    """Every count the report shows for one assignment."""
    stat = AssignmentStat(task)
    tests: dict[str, TestStat] = {}
    cause_students: dict[str, set[str]] = defaultdict(set)
    cause_tests: dict[str, Counter] = defaultdict(Counter)
    for r in sorted(results, key=lambda r: r["student_id"]):
        student = r["student_id"]
        stat.max_score = max(stat.max_score, r.get("max_score") or 0)
        stat.scores.append(r.get("score") or 0)
        if r.get("needs_review"):
            stat.review.append((student, list(r.get("review_reasons") or [])))
        if r.get("status", "graded") != "graded":
            stat.not_graded.append((student, r.get("status", "")))
        if r.get("duedate"):
            stat.due_known += 1
        late = lateness(r)
        if late:
            stat.late.append(late)
        if r.get("seconds") is not None:
            stat.seconds.append((float(r["seconds"]), student))
        for t in r.get("tests", []):
            entry = tests.setdefault(t["name"], TestStat(t["name"], t.get("title") or "", t.get("max_points", 0)))
            entry.attempts += 1
            if t.get("outcome") == "passed":
                entry.passed += 1
                continue
            entry.failures.append(Failure(student, t.get("outcome", ""), _first_line(t.get("message", ""))))
            for cause in likely_causes(t.get("message") or ""):
                cause_students[cause].add(student)
                cause_tests[cause][t["name"]] += 1
    stat.tests = sorted(tests.values(), key=lambda t: (t.pass_rate, t.name))
    stat.causes = sorted((Cause(text, len(who), [name for name, _ in cause_tests[text].most_common()])
                          for text, who in cause_students.items()), key=lambda c: (-c.students, c.text))
    have = {r["student_id"] for r in results}
    stat.missing = sorted(s for s in roster if s not in have)
    stat.seconds.sort(reverse=True)
    return stat


def class_stats(results: list[dict], assignments: list[str], roster: list[str] | None = None
                ) -> tuple[list[AssignmentStat], list[StudentRow]]:
    """Per assignment statistics and per student rows; ROSTER (the class list) defaults to everyone with a result."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    by_student: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in results:
        by_task[r["assignment"]].append(r)
        by_student[r["student_id"]][r["assignment"]] = r
    everyone = sorted(set(roster or []) | set(by_student))
    stats = [assignment_stats(task, by_task.get(task, []), everyone) for task in assignments]
    max_scores = {s.id: s.max_score for s in stats}
    rows = [StudentRow(student, by_student.get(student, {}),
                       sum(r.get("score") or 0 for r in by_student.get(student, {}).values()),
                       sum(max_scores.values()))
            for student in everyone]
    return stats, rows
