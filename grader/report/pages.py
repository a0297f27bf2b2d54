"""Lay the class statistics and the similar-code pairs out as HTML pages (Jinja2 templates in grader/templates/).

Every sentence a page shows is one whole gettext message with named placeholders (``_("… %(n)s …", n=…)``)
in the ``report`` domain (grader/locale/<lang>/LC_MESSAGES/report.po); the pages are written in the run's
language (``grader.i18n.language()``, or ``write_report``'s ``lang``), with ``<html lang>`` set to match.
"""
from __future__ import annotations

import os
import time
from functools import lru_cache
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from rich.console import Console

from grader.i18n import language, messages, set_language, translations
from grader.report import plots
from grader.report.data import class_stats, lateness
from grader.similarity.index import Pair, SimilarityReport, find_pairs

_, _n = messages("report")

BODY_FONTS = {"en": 'system-ui,"Noto Sans CJK KR","Noto Sans",sans-serif',
              "ko": 'system-ui,"Noto Sans CJK KR","Malgun Gothic","Apple SD Gothic Neo","Noto Sans",sans-serif'}
"""The pages' font stack: Korean pages name a Hangul font of Linux (fonts-noto-cjk), Windows and macOS."""
LANG_CSS = {"ko": "body{word-break:keep-all}"}
"""Korean wraps at spaces, as Korean pages do (the browser's default breaks a Korean word between syllables)."""
PAIR_PAGES = 200  # side-by-side pages written (the highest-scoring flagged pairs, then the closest held back)
MAX_TABLE_PAIRS = 500


@lru_cache(maxsize=None)
def _environment(lang: str) -> Environment:
    """The templates with LANG's catalog installed: one environment per language, so a page never mixes two."""
    env = Environment(loader=PackageLoader("grader", "templates"), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations("report", lang), newstyle=True)
    env.globals["lang"] = lang  # <html lang="…">: the browser picks fonts and hyphenation by it
    env.globals["body_fonts"] = Markup(BODY_FONTS.get(lang, BODY_FONTS["en"]))
    env.globals["lang_css"] = Markup(LANG_CSS.get(lang, ""))
    env.filters["urlencode"] = lru_cache(maxsize=65536)(env.filters["urlencode"])  # the same ids, thousands of times
    return env


def fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _write(path: Path, text: str) -> None:
    """Atomic, and skipped when the page is already there unchanged (a re-run rewrites only what changed)."""
    data = text.encode("utf-8")
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class ReportSummary:
    students: int
    results: int
    pages: int
    candidate_pairs: int
    flagged_pairs: int
    similarity_seconds: float
    plot_seconds: float
    seconds: float


def _reference_fingerprints(assignments: list[str]) -> dict[str, dict]:
    """The instructor solutions' fingerprints (solutions/<id>), to say which pairs both resemble it."""
    from grader.course import assignment
    from grader.notebook import SubmissionError, read_cells
    from grader.similarity.fingerprints import fingerprint_cells, release_stubs

    found = {}
    for task in assignments:
        try:
            spec = assignment(task)
            found[task] = fingerprint_cells(read_cells(spec.source_notebook), release_stubs(spec.release_notebook))
        except (SubmissionError, OSError, KeyError, ValueError):
            continue  # no source notebook here (e.g. a grading-only checkout): the column stays empty
    return found


def _code_lines(code: str, matched: dict[int, int], stub: set[int]) -> list[dict]:
    return [{"number": n, "text": text,
             "css": "stub" if n in stub else f"m{(matched[n] - 1) % 6 + 1}" if n in matched else ""}
            for n, text in enumerate(code.splitlines(), start=1)]


def _like_solution(pair: Pair) -> str:
    if pair.a_like_reference is None:
        return ""
    return _("{a}% / {b}%", a=round(100 * pair.a_like_reference), b=round(100 * (pair.b_like_reference or 0)))


def _write_pairs(report_dir: Path, similarity: SimilarityReport, templates: Environment) -> int:
    template = templates.get_template("report_pair.html")
    written = 0
    for index, pair in enumerate((similarity.pairs[:PAIR_PAGES] + similarity.near), start=1):
        name = f"pairs/{index:04d}-{pair.assignment}-{pair.grade_id}.html"
        a_matched, b_matched = pair.matched_lines()
        page = template.render(p=pair, a_lines=_code_lines(pair.a_code, a_matched, set(pair.a_stub_lines)),
                               b_lines=_code_lines(pair.b_code, b_matched, set(pair.b_stub_lines)))
        _write(report_dir / name, page)
        pair.page = name
        written += 1
    return written


def _assignment_order(results: list[dict]) -> list[str]:
    from grader.course import assignment_ids

    present = {r["assignment"] for r in results}
    ids = assignment_ids()
    return [a for a in ids if a in present] + sorted(present - set(ids))


def write_report(out: Path, results: list[dict], problems: list[str], roster: list[str] | None = None,
                 console: Console | None = None, lang: str | None = None) -> ReportSummary:
    """Write grades/summary.html and grades/report/ from RESULTS; ROSTER (the class list) when one is known.

    The pages are in LANG, by default the run's language (``grader.i18n.language()``, which the coordinator
    sets from ``--lang``); a LANG given here is the process's language from now on (``set_language``).
    """
    if lang is not None:
        set_language(lang)
    return _write_report(out, results, problems, roster, console, _environment(language()))


def _write_report(out: Path, results: list[dict], problems: list[str], roster: list[str] | None,
                  console: Console | None, templates: Environment) -> ReportSummary:
    started = time.perf_counter()
    assignments = _assignment_order(results)
    stats, rows = class_stats(results, assignments, roster)

    similarity = find_pairs(((r["student_id"], r["assignment"], r.get("fingerprints")) for r in results),
                            reference=_reference_fingerprints(assignments))
    if console is not None:
        console.print(_("similar code: the index produced {candidates} candidate pairs, {flagged} over the "
                        "threshold (grades/report/similarity.html)", candidates=similarity.candidate_pairs,
                        flagged=len(similarity.pairs)))

    plot_started = time.perf_counter()
    histograms = {a.id: plots.histogram(a.scores, a.max_score) for a in stats if a.submitted}
    times_plot = plots.grading_times({a.id: [s for s, _ in a.seconds] for a in stats})
    plot_seconds = time.perf_counter() - plot_started

    report_dir = out / "report"
    pages = _write_pairs(report_dir, similarity, templates)
    counts: dict[str, int] = {}
    for pair in similarity.pairs:
        counts[pair.assignment] = counts.get(pair.assignment, 0) + 1
    by_students: dict[tuple[str, str], list[Pair]] = {}
    for pair in similarity.pairs:
        by_students.setdefault((pair.a, pair.b), []).append(pair)
    student_pairs = sorted(by_students.items(), key=lambda item: (-len(item[1]), -max(p.score for p in item[1]),
                                                                 item[0]))
    sim_page = templates.get_template("report_similarity.html").render(
        sim=similarity, assignments=assignments, like_solution=_like_solution, limit=MAX_TABLE_PAIRS,
        student_pairs=student_pairs[:MAX_TABLE_PAIRS])
    _write(report_dir / "similarity.html", sim_page)
    template = templates.get_template("report_assignment.html")
    for a in stats:
        _write(report_dir / f"{a.id}.html", template.render(a=a, assignments=assignments, fmt=fmt,
                                                           histogram=histograms.get(a.id, "")))
    template = templates.get_template("report_student.html")
    pairs_of: dict[str, list[tuple[Pair, str]]] = {}
    for pair in similarity.pairs:
        pairs_of.setdefault(pair.a, []).append((pair, pair.b))
        pairs_of.setdefault(pair.b, []).append((pair, pair.a))
    for row in rows:
        late = {task: found for task, r in row.results.items() if (found := lateness(r))}
        _write(report_dir / "students" / f"{row.id}.html",
               template.render(s=row, assignments=assignments, late=late, fmt=fmt, pairs=pairs_of.get(row.id, [])))
    review = [(r["student_id"], r["assignment"], r.get("review_reasons") or [])
              for r in sorted(results, key=lambda r: (r["assignment"], r["student_id"])) if r.get("needs_review")]
    summary = templates.get_template("summary.html").render(
        stats=stats, rows=rows, problems=problems, fmt=fmt, histograms=histograms, times_plot=times_plot,
        review=review, similarity=similarity, similarity_counts=counts, total_results=len(results),
        written=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    _write(out / "summary.html", summary)
    pages += 2 + len(stats) + len(rows)
    return ReportSummary(len(rows), len(results), pages, similarity.candidate_pairs, len(similarity.pairs),
                         similarity.seconds, round(plot_seconds, 3), round(time.perf_counter() - started, 3))
