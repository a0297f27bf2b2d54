"""Similar-code pairs: normalisation, winnowing, the discounts, and the calibration on independent solutions.

tests/data/independent/<id>/ holds a second correct solution of alexnet and vgg, written independently of
solutions/ and in another style; tests/data/independent/disguised/<id>/ a copy of solutions/ with renamed
variables, reordered helpers and changed comments.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from grader.course import assignment
from grader.notebook import read_cells
from grader.similarity import find_pairs, fingerprint_source
from grader.similarity.fingerprints import (K, W, fingerprint_cells, kgrams, pack_prints, release_stubs,
                                            unpack_prints, winnow)
from grader.similarity.index import MAX_STUDENTS, THRESHOLD
from grader.similarity.tokens import Token, normalised_tokens
from tests.conftest import released_notebook, write_submission

DATA = Path(__file__).parent / "data" / "independent"
TASKS = ("alexnet", "vgg")


def _cells(folder: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py"))}


def _solution_cells(task: str) -> dict[str, str]:
    return {c.grade_id: c.source for c in read_cells(assignment(task).source_notebook) if c.kind == "solution"}


def _prints(task: str, cells: dict[str, str]) -> dict:
    stubs = release_stubs(assignment(task).release_notebook)
    return {"cells": {gid: fingerprint_source(src, stubs.get(gid, "")) for gid, src in cells.items()}}


def _units(task: str, **students: dict[str, str]) -> list[tuple[str, str, dict]]:
    return [(name, task, _prints(task, cells)) for name, cells in students.items()]


def test_renaming_and_comments_leave_the_tokens_unchanged():
    a = "def f(x, n):\n    total = x * 2  # double\n    return total + n\n"
    b = "def g(value, count):\n    # a comment of its own\n    acc = value * 7\n    return acc + count\n"
    c = "def f(x, n):\n    total = x * 2\n    return total - n\n"
    assert [t.text for t in normalised_tokens(a)] == [t.text for t in normalised_tokens(b)]
    assert [t.text for t in normalised_tokens(a)] != [t.text for t in normalised_tokens(c)]
    assert "range" in [t.text for t in normalised_tokens("for i in range(3): pass")]  # builtins are kept


def test_winnowing_finds_every_shared_run_of_w_plus_k_minus_1_tokens():
    rng = random.Random(0)
    vocabulary = list("abcdefgh")
    for _ in range(50):
        shared = [rng.choice(vocabulary) for _ in range(W + K - 1)]
        a = [rng.choice(vocabulary) for _ in range(rng.randrange(0, 40))] + shared + [rng.choice(vocabulary)
                                                                                      for _ in range(30)]
        b = [rng.choice(vocabulary) for _ in range(rng.randrange(0, 40))] + shared
        prints_a = {h for h, _, _ in winnow(kgrams([Token(t, 1) for t in a]))}
        prints_b = {h for h, _, _ in winnow(kgrams([Token(t, 1) for t in b]))}
        assert prints_a & prints_b
    assert len(winnow(kgrams([Token(t, 1) for t in a]))) < len(a) - K + 1  # winnowing keeps a subset


def test_packed_fingerprints_round_trip():
    prints = [(2 ** 53 - 1, 1, 3), (0, 7, 70_000), (12345, 2, 2)]
    assert unpack_prints(pack_prints(prints)) == [(2 ** 53 - 1, 1, 3), (0, 7, 0xFFFF), (12345, 2, 2)]
    assert unpack_prints([[5, 1, 2]]) == [(5, 1, 2)]  # the plain-list form is read too


def test_the_release_stub_has_no_fingerprints():
    """The untouched release (bob in the examples) is all base file: nothing of it can make a pair."""
    task = assignment("vgg")
    prints = fingerprint_cells(read_cells(task.release_notebook), release_stubs(task.release_notebook))
    assert prints["cells"] and all(unpack_prints(cell["prints"]) == [] for cell in prints["cells"].values())


@pytest.mark.parametrize("task", TASKS)
def test_independent_solutions_stay_under_the_threshold(task):
    report = find_pairs(_units(task, reference=_solution_cells(task), independent=_cells(DATA / task)), near=100)
    assert report.pairs == [], [(p.grade_id, p.score, p.shared) for p in report.pairs]
    worst = max(report.near, key=lambda p: p.score)
    assert worst.score < THRESHOLD


@pytest.mark.parametrize("task", TASKS)
def test_a_disguised_copy_is_flagged(task):
    """Renamed variables, reordered helpers, changed comments: every exercise of any size still pairs."""
    copy = _cells(DATA / "disguised" / task)
    report = find_pairs(_units(task, reference=_solution_cells(task), copy=copy,
                               independent=_cells(DATA / task)))
    flagged = {p.grade_id for p in report.pairs}
    big = {gid for gid, cell in _prints(task, copy)["cells"].items() if len(unpack_prints(cell["prints"])) >= 10}
    assert big and big <= flagged, (big, flagged)
    assert all({p.a, p.b} == {"copy", "reference"} for p in report.pairs)
    pair = next(p for p in report.pairs if p.grade_id == task)
    assert pair.score >= 0.9 and pair.passages
    a_lines, b_lines = pair.matched_lines()
    assert a_lines and b_lines  # matching lines to show side by side


def test_passages_shared_by_more_than_m_students_are_discounted():
    """MOSS -m: eleven students with the solution make no pair; two with the same other code still do."""
    task = "vgg"
    solution, other = _solution_cells(task), _cells(DATA / task)
    units = _units(task, **{f"s{i:02d}": solution for i in range(MAX_STUDENTS + 1)}, x=other, y=other)
    report = find_pairs(units)
    assert {frozenset((p.a, p.b)) for p in report.pairs} == {frozenset(("x", "y"))}
    assert all(e.discounted > 0 for e in report.exercises if e.fingerprints)
    # at exactly M students the same passages still count: the copies pair
    report = find_pairs(_units(task, **{f"s{i:02d}": solution for i in range(MAX_STUDENTS)}))
    assert report.pairs and report.candidate_pairs >= MAX_STUDENTS * (MAX_STUDENTS - 1) // 2


def test_the_index_only_scores_pairs_that_share_a_fingerprint():
    task = "vgg"
    units = _units(task, a=_solution_cells(task), b=_cells(DATA / task), c=_cells(DATA / "disguised" / task))
    report = find_pairs(units)
    for exercise in report.exercises:
        assert exercise.candidate_pairs <= 3
    conv = next(e for e in report.exercises if e.grade_id == "conv_params")
    assert conv.candidate_pairs <= 1  # the independent conv_params shares nothing with the others


def test_reference_share_is_reported():
    task = "alexnet"
    units = _units(task, a=_solution_cells(task), b=_cells(DATA / "disguised" / task))
    report = find_pairs(units, reference={task: _prints(task, _solution_cells(task))})
    pair = next(p for p in report.pairs if p.grade_id == "alexnet")
    assert pair.a_like_reference == 1.0 and pair.b_like_reference >= 0.9


def test_grading_stores_fingerprints_and_the_independent_solutions_earn_full_marks(tmp_path):
    """The second solutions are correct (the grader's own verdict), and grade_unit fingerprints each exercise."""
    from grader.unit import Settings, grade_unit

    for task in TASKS:
        path = write_submission(tmp_path, task, _cells(DATA / task), base=released_notebook(task))
        result = grade_unit(path, task, "independent", Settings(cell_timeout=20, call_timeout=20))
        assert result["score"] == result["max_score"], [(t["name"], t["message"]) for t in result["tests"]
                                                        if t["outcome"] != "passed"]
        cells = result["fingerprints"]["cells"]
        assert set(cells) == set(assignment(task).solution_ids())
        assert unpack_prints(cells[task]["prints"]) and cells[task]["code"].startswith("class ")


def test_a_damaged_fingerprint_record_leaves_only_that_unit_out():
    task = "vgg"
    units = _units(task, a=_solution_cells(task), b=_solution_cells(task))
    units.append(("c", task, {"cells": {"vgg": {"prints": "not base64!"}}}))
    units.append(("d", task, {"cells": {"vgg": {"code": "x"}}}))  # no prints at all
    report = find_pairs(units)
    assert ("c", task) in report.without_fingerprints and ("d", task) in report.without_fingerprints
    assert any({p.a, p.b} == {"a", "b"} for p in report.pairs)


def _winnow_by_definition(grams, w):
    """Each window's rightmost minimal hash, each selected position once: the definition, window by window."""
    if len(grams) <= w:
        return [min(grams, key=lambda g: g[0])] if grams else []
    chosen, last = [], -1
    for start in range(len(grams) - w + 1):
        best = min(range(start, start + w), key=lambda i: (grams[i][0], -i))
        if best != last:
            chosen.append(grams[best])
            last = best
    return chosen


def test_one_pass_winnowing_selects_what_the_definition_selects():
    """The stored fingerprints must not change with the faster winnowing: ties included (few distinct hashes)."""
    rng = random.Random(11)
    for _ in range(3000):
        distinct = rng.choice([2, 5, 1 << 53])
        grams = [(rng.randrange(distinct), i, i + 1) for i in range(rng.randrange(0, 50))]
        w = rng.choice([1, 2, 3, W])
        assert winnow(grams, w) == _winnow_by_definition(grams, w), (grams, w)
