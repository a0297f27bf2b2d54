"""Pairs of students whose own code for an exercise is unusually alike, found through an inverted index.

Per exercise (assignment × grade_id) the index maps each fingerprint to the students whose code has it;
only students who share a fingerprint become a candidate pair, so the work grows with the shared
passages, not with the square of the class. Two discounts keep code that the contract fixes out of the
score: the release's stub text (MOSS's base file, removed when the fingerprints were made) and any
fingerprint that more than ``max_students`` students share (MOSS's ``-m``, an absolute count).

Score of a pair = shared rare fingerprints / the rare fingerprints of the one with fewer of them, i.e.
"how much of the smaller submission's own code appears in the other". A pair is flagged when the score
reaches ``threshold`` and at least ``min_shared`` fingerprints are shared. Nothing here touches a grade.
"""
from __future__ import annotations

import binascii
import struct
import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Iterable

from grader.similarity.fingerprints import unpack_prints

MAX_STUDENTS = 10   # MOSS -m: a passage more students than this share is common knowledge, not copying
THRESHOLD = 0.5     # calibrated in tests/test_similarity.py (independent solutions score 0.1–0.3, copies ~1.0)
MIN_SHARED = 6      # fingerprints; with K=10, W=8 about three lines of code


@dataclass
class Passage:
    """One run of matching code: lines a_first..a_last of A match lines b_first..b_last of B."""

    a_first: int
    a_last: int
    b_first: int
    b_last: int


@dataclass
class Pair:
    assignment: str
    grade_id: str
    a: str
    b: str
    shared: int            # rare fingerprints both have
    a_rare: int            # A's fingerprints after the discounts
    b_rare: int
    score: float
    flagged: bool
    passages: list[Passage] = field(default_factory=list)
    a_code: str = ""
    b_code: str = ""
    a_stub_lines: list[int] = field(default_factory=list)
    b_stub_lines: list[int] = field(default_factory=list)
    a_like_reference: float | None = None  # share of A's fingerprints also in the instructor's solution
    b_like_reference: float | None = None
    page: str = ""                          # the report's side-by-side page, once written

    @property
    def a_percent(self) -> int:
        return round(100 * self.shared / self.a_rare) if self.a_rare else 0

    @property
    def b_percent(self) -> int:
        return round(100 * self.shared / self.b_rare) if self.b_rare else 0

    def matched_lines(self) -> tuple[dict[int, int], dict[int, int]]:
        """line → passage number (1-based), for A and for B."""
        a_lines: dict[int, int] = {}
        b_lines: dict[int, int] = {}
        for number, p in enumerate(self.passages, start=1):
            for line in range(p.a_first, p.a_last + 1):
                a_lines.setdefault(line, number)
            for line in range(p.b_first, p.b_last + 1):
                b_lines.setdefault(line, number)
        return a_lines, b_lines


@dataclass
class ExerciseStats:
    assignment: str
    grade_id: str
    students: int = 0
    fingerprints: int = 0      # distinct fingerprints in the index
    discounted: int = 0        # of those, shared by more than max_students
    candidate_pairs: int = 0   # pairs sharing at least one rare fingerprint
    flagged: int = 0


@dataclass
class SimilarityReport:
    pairs: list[Pair]                 # flagged pairs, highest score first
    near: list[Pair]                  # the best unflagged candidates (what the threshold held back)
    exercises: list[ExerciseStats]
    without_fingerprints: list[tuple[str, str]]  # (student, assignment) graded before fingerprints existed
    max_students: int
    threshold: float
    min_shared: int
    seconds: float

    @property
    def candidate_pairs(self) -> int:
        return sum(e.candidate_pairs for e in self.exercises)


def _passages(a_prints: list, b_prints: list, shared: set[int]) -> list[Passage]:
    """Matching line ranges, merged where consecutive matches are adjacent on both sides."""
    b_where: dict[int, tuple[int, int]] = {}
    for h, first, last in b_prints:
        if h in shared:
            b_where.setdefault(h, (first, last))
    matches = sorted((first, last, *b_where[h]) for h, first, last in a_prints if h in b_where)
    merged: list[Passage] = []
    for a1, a2, b1, b2 in matches:
        if merged:
            p = merged[-1]
            if a1 <= p.a_last + 1 and p.b_first - 1 <= b1 <= p.b_last + 1:
                p.a_last, p.b_first, p.b_last = max(p.a_last, a2), min(p.b_first, b1), max(p.b_last, b2)
                continue
        merged.append(Passage(a1, a2, b1, b2))
    return merged


def _share(prints: list, known: set[int]) -> float:
    own = {p[0] for p in prints}
    return round(len(own & known) / len(own), 3) if own else 0.0


def find_pairs(units: Iterable[tuple[str, str, dict | None]], max_students: int = MAX_STUDENTS,
               threshold: float = THRESHOLD, min_shared: int = MIN_SHARED, near: int = 10,
               reference: dict[str, dict] | None = None) -> SimilarityReport:
    """Index every unit's fingerprints per exercise and score the pairs that share rare ones.

    UNITS: (student_id, assignment, the result's "fingerprints" or None). REFERENCE: assignment → the
    instructor solution's fingerprints, only to say how much of each listed student's code is also in it
    (the reference is not a student: it neither makes pairs nor counts towards the discount).
    """
    started = time.perf_counter()
    cells: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    missing: list[tuple[str, str]] = []
    for student, task, prints in units:
        if not prints or not isinstance(prints.get("cells"), dict):
            missing.append((student, task))
            continue
        try:  # decoded once here: a damaged record leaves this unit out instead of stopping the report
            decoded = {grade_id: {**cell, "prints": unpack_prints(cell["prints"])}
                       for grade_id, cell in prints["cells"].items()}
        except (KeyError, TypeError, ValueError, struct.error, binascii.Error):
            missing.append((student, task))
            continue
        for grade_id, cell in decoded.items():
            cells[(task, grade_id)][student] = cell
    flagged: list[Pair] = []
    held_back: list[Pair] = []
    stats: list[ExerciseStats] = []
    discounted: dict[tuple[str, str], set[int]] = {}
    for (task, grade_id), by_student in sorted(cells.items()):
        students = sorted(by_student)
        hashes = [{p[0] for p in by_student[s]["prints"]} for s in students]
        postings: dict[int, list[int]] = defaultdict(list)
        for index, own in enumerate(hashes):
            for h in own:
                postings[h].append(index)
        popular = {h for h, who in postings.items() if len(who) > max_students}
        discounted[(task, grade_id)] = popular
        rare = [len(own - popular) for own in hashes]
        counts: dict[tuple[int, int], int] = defaultdict(int)
        for h, who in postings.items():
            if 1 < len(who) <= max_students:
                for pair in combinations(who, 2):
                    counts[pair] += 1
        entry = ExerciseStats(task, grade_id, len(students), len(postings), len(popular), len(counts))
        for (i, j), shared in counts.items():
            smaller = min(rare[i], rare[j])
            score = shared / smaller if smaller else 0.0
            pair = Pair(task, grade_id, students[i], students[j], shared, rare[i], rare[j], round(score, 3),
                        score >= threshold and shared >= min_shared)
            (flagged if pair.flagged else held_back).append(pair)
            entry.flagged += pair.flagged
        stats.append(entry)
    held_back.sort(key=lambda p: (-p.score, -p.shared))
    held_back = held_back[:near]
    flagged.sort(key=lambda p: (-p.score, -p.shared, p.assignment, p.grade_id, p.a, p.b))
    for pair in flagged + held_back:
        a, b = cells[(pair.assignment, pair.grade_id)][pair.a], cells[(pair.assignment, pair.grade_id)][pair.b]
        a_prints, b_prints = a["prints"], b["prints"]
        shared = ({p[0] for p in a_prints} & {p[0] for p in b_prints}) - discounted[(pair.assignment,
                                                                                  pair.grade_id)]
        pair.passages = _passages(a_prints, b_prints, shared)
        pair.a_code, pair.b_code = a.get("code", ""), b.get("code", "")
        pair.a_stub_lines, pair.b_stub_lines = a.get("stub_lines", []), b.get("stub_lines", [])
        solution = ((reference or {}).get(pair.assignment) or {}).get("cells", {}).get(pair.grade_id)
        if solution is not None:
            known = {p[0] for p in unpack_prints(solution["prints"])}
            pair.a_like_reference = _share(a_prints, known)
            pair.b_like_reference = _share(b_prints, known)
    return SimilarityReport(flagged, held_back, stats, missing, max_students, threshold, min_shared,
                            round(time.perf_counter() - started, 3))
