"""The class report in Korean: its chrome, <html lang>, plots whose Hangul stays text, and the Korean likely causes."""
from __future__ import annotations

import re

import pytest

from grader.i18n import language, set_language
from grader.report import data, write_report
from grader.report.data import class_stats, likely_causes

KO_CAUSE = "개수 1 ≠ 2.\n예상 원인: 편향 (bias)을 셌습니다 (강의에서는 bias=False)"
EN_CAUSE = "count 1 ≠ 2.\nLikely cause: biases counted (bias=False in the lecture)"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _test(name: str, passed: bool, message: str = "") -> dict:
    return {"name": name, "title": f"title of {name}", "points": 2 if passed else 0, "max_points": 2,
            "outcome": "passed" if passed else "failed", "message": message}


def _result(student: str, tests: list[dict], **extra) -> dict:
    return {"student_id": student, "assignment": "vgg", "score": sum(t["points"] for t in tests),
            "max_score": sum(t["max_points"] for t in tests), "status": "graded", "needs_review": False,
            "review_reasons": [], "cells": [], "problems": [], "tests": tests, "seconds": 0.5, **extra}


def _class() -> list[dict]:
    """ann and ben were graded in Korean, cho in English (a class may mix both)."""
    return [_result("ann", [_test("test_a", True), _test("test_b", False, KO_CAUSE)],
                    timestamp="2025-01-02 10:00:00 UTC", duedate="2025-01-01 12:00:00 UTC"),
            _result("ben", [_test("test_a", False, KO_CAUSE), _test("test_b", True)]),
            _result("cho", [_test("test_a", False, EN_CAUSE), _test("test_b", False, EN_CAUSE)])]


def test_korean_likely_causes_are_counted_beside_english_ones():
    stats, _ = class_stats(_class(), ["vgg"])
    assert [(c.text, c.students, sorted(c.tests)) for c in stats[0].causes] == [
        ("편향 (bias)을 셌습니다 (강의에서는 bias=False)", 2, ["test_a", "test_b"]),
        ("biases counted (bias=False in the lecture)", 1, ["test_a", "test_b"])]
    assert likely_causes("no cause here\n예상 원인 없음") == []


class _Catalog:
    def __init__(self, text: str):
        self.text = text

    def gettext(self, message: str) -> str:
        return self.text


@pytest.mark.parametrize("translated, message", [
    ("추정 원인 — {hint}", "x\n추정 원인 — 채널 (channel) 순서"),  # the catalog's own wording
    ("Likely cause: {hint}", "x\n예상 원인: 채널 (channel) 순서"),  # not translated yet: the glossary's
])
def test_the_korean_wording_comes_from_the_grader_catalog(monkeypatch, translated, message):
    monkeypatch.setattr(data, "translations", lambda domain, lang: _Catalog(translated))
    data.likely_cause.cache_clear()
    try:
        assert likely_causes(message) == ["채널 (channel) 순서"]
        assert likely_causes("Likely cause: kept") == ["kept"]  # English still counted
    finally:
        data.likely_cause.cache_clear()


def test_report_in_korean_then_english(tmp_path):
    """lang="ko" writes Korean pages (chrome, plots, <html lang>); the next English report is unchanged by it."""
    write_report(tmp_path / "ko", _class(), ["stray.txt: not an assignment"], roster=["dan"], lang="ko")
    assert language() == "ko"  # write_report's lang is the process's language from then on
    summary = (tmp_path / "ko" / "summary.html").read_text(encoding="utf-8")
    assert summary.startswith('<!doctype html>\n<html lang="ko">')
    chrome = ("<title>학급 보고서</title>", "과제별 점수", "검토 필요 ⚑", "미제출, 늦은 제출, 채점 안 됨")
    assert all(korean in summary for korean in chrome)
    assert "Scores per assignment" not in summary and "Needs review" not in summary
    assert '"Malgun Gothic"' in summary and "word-break:keep-all" in summary  # Hangul fonts; wrap at spaces

    svgs = re.findall(r"<svg.*?</svg>", summary, flags=re.S)
    assert len(svgs) == 2  # the histogram and the grading times
    histogram = svgs[0]
    # svg.fonttype 'none': the Hangul label stays text, in a font stack with CJK fonts
    label = re.search(r"<text[^>]*>점수 \(만점 4\)</text>", histogram)
    assert label and "'Noto Sans CJK KR', 'Malgun Gothic', 'Apple SD Gothic Neo'" in label[0]
    assert not re.search(r'id="DejaVuSans-', histogram)  # no glyph outlines

    vgg = (tmp_path / "ko" / "report" / "vgg.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in vgg and "자주 나온 예상 원인" in vgg and "22시간 0분" in vgg
    assert "편향 (bias)을 셌습니다" in vgg
    student = (tmp_path / "ko" / "report" / "students" / "dan.html").read_text(encoding="utf-8")
    assert "제출하지 않음" in student and "학생 dan" in student

    set_language("en")
    write_report(tmp_path / "en", _class(), [], roster=["dan"])
    english = (tmp_path / "en" / "summary.html").read_text(encoding="utf-8")
    assert english.startswith('<!doctype html>\n<html lang="en">') and "Scores per assignment" in english
    assert not HANGUL.search(english) and "keep-all" not in english  # nothing Korean leaks into English pages
    assert "font-family: 'DejaVu Sans'" in english and "Noto Sans CJK KR', 'Malgun" not in english


def test_the_report_follows_the_runs_language(tmp_path, capsys):
    """The coordinator sets the run's language; make grade's report writer (grader.outputs) then writes Korean."""
    from grader.outputs import write_summary

    set_language("ko")
    write_summary(tmp_path, _class(), [])
    similarity = (tmp_path / "report" / "similarity.html").read_text(encoding="utf-8")
    assert "학급 보고서" in similarity
    assert "제출물 3개에 지문이 없습니다" in similarity  # a plural message (ngettext) from the catalog
    assert "비슷한 코드: 색인 (index)에서 후보 쌍" in " ".join(capsys.readouterr().err.split())
