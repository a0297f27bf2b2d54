"""Everything written to ``grades/``: per-unit JSON, feedback pages, nbgrader's CSV, the class summary.

Each writer reads typed results (``grader.results``); the results JSON is
``UnitResult.public()``, in the format of docs/results-format.md.
"""
from __future__ import annotations

import csv
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from jinja2 import Environment, PackageLoader, select_autoescape
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from rich.console import Console
from rich.table import Table

from grader.course import assignment_ids
from grader.i18n import language, translations
from grader.results import UnitResult, status_text

CSV_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
               "raw_score", "late_submission_penalty", "score", "max_score"]
RESULT_KEYS = list(UnitResult.PUBLIC_KEYS)



class ConstantGettext(Extension):
    """``_("a constant")`` in a template becomes its translation when the template is compiled for one language.

    Jinja calls gettext at every render (about 20 µs a call, newstyle): a feedback page's fixed words would
    cost more than the rest of the page, once per student. Jinja has no compile-time folding of calls, so this
    rewrites the tokens ``_ ( "text" )`` into the string literal ``"translation"``, which Jinja then writes
    as constant text, escaped like any text. Placeholders are filled with ``%`` and the whole is escaped:
    ``_("Score: %(score)s") % {"score": x}``; a call with keyword values (``_("Score: %(score)s", score=x)``)
    is left to newstyle gettext at render time. Babel extracts the template like any other.
    """

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        gettext = self.environment.constant_gettext   # set by feedback_environment for its language
        window: list[Token] = []
        for token in _tokens(stream):
            window.append(token)
            if len(window) < 4:
                continue
            name, lparen, text, rparen = window
            if (name.type, name.value, lparen.type, text.type, rparen.type) == (
                    "name", "_", "lparen", "string", "rparen"):
                yield Token(text.lineno, "string", gettext(text.value))
                window = []
            else:
                yield window.pop(0)
        yield from window


def _tokens(stream: TokenStream) -> Iterator[Token]:
    while not stream.eos:
        yield stream.current
        next(stream)


@lru_cache(maxsize=None)
def feedback_environment(lang: str) -> Environment:
    """The templates of the student's pages in ``lang``: fixed words compiled in, the rest through gettext."""
    env = Environment(loader=PackageLoader("grader", "templates"), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n", ConstantGettext])
    catalog = translations("grader", lang)
    env.extend(constant_gettext=catalog.gettext)
    env.install_gettext_translations(catalog, newstyle=True)
    return env


def fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _write_unit_file(path: Path, text: str) -> None:
    """A unit's file, never seen half-replaced: a file already there (a re-grade) is replaced atomically (a
    temporary file, then a rename); a new one is created in place, with no rename (file creation is the writer's
    costliest step on ext4). A new file cut short by a killed run belongs to a unit whose gradebook row was not
    committed, so the next run grades that unit again and replaces the file."""
    data = text.encode("utf-8")
    try:
        _create(path, data)
    except FileExistsError:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except FileNotFoundError:  # a student's first unit: only then the folder is made (mkdir is costly on ext4,
        path.parent.mkdir(parents=True, exist_ok=True)  # even for a folder that exists)
        _create(path, data)


def _create(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:  # "x": O_CREAT | O_EXCL, FileExistsError where a file is already there
        handle.write(data)


def write_unit(out: Path, result: UnitResult) -> None:
    """The per-unit JSON (docs/results-format.md) and the student's feedback page: the one its worker rendered,
    else rendered here (a unit the coordinator answered itself, or one whose page was made stale)."""
    _write_unit_file(out / "results" / result.student_id / f"{result.assignment}.json",
                  json.dumps(result.public(), ensure_ascii=False))  # compact: the C encoder, not the indenting one
    page = result.page if result.page is not None and not result.grader_failure else render_feedback(result)
    result.page = None  # written: a class's pages are not held for the rest of the run
    _write_unit_file(out / "feedback" / result.student_id / f"{result.assignment}.html", page)


def with_page(result: UnitResult) -> UnitResult:
    """Render the feedback page where the unit was graded: the workers render in parallel what the
    coordinator's one writer thread would otherwise render one unit after another."""
    result.page = render_feedback(result)
    return result


def render_feedback(result: UnitResult) -> str:
    """The student's feedback page, in the run's language (``grader.i18n.language``)."""
    lang = language()
    return feedback_environment(lang).get_template("feedback.html").render(r=result, fmt=fmt, lang=lang,
                                                                          status_text=status_text)


def write_csv(out: Path, results: list[UnitResult]) -> None:
    """grades.csv for a plain folder of submissions (no nbgrader course): nbgrader export's columns and number
    format, one row per graded submission; no roster, so no names and no zero rows; no due date, so no penalty.

    A course's submitted folder gets nbgrader's own export instead (grader/nbgrader_course/gradebook.py).
    """
    rows = sorted(results, key=lambda r: (_assignment_order(r.assignment), r.student_id))
    path = out / "grades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".tmp"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")  # nbgrader writes "\n"
        writer.writeheader()
        for r in rows:
            writer.writerow({"assignment": r.assignment, "duedate": "", "timestamp": _utc(r.timestamp),
                             "student_id": r.student_id, "last_name": "", "first_name": "", "email": "",
                             "raw_score": str(float(r.score)), "late_submission_penalty": "0.0",
                             "score": str(float(r.score)), "max_score": str(float(r.max_score))})
    os.replace(path.with_suffix(".tmp"), path)


def _utc(timestamp: str | None) -> str:
    """A timestamp.txt value as nbgrader's export prints it (naive UTC), or "" when missing or unreadable."""
    from nbgrader.utils import parse_utc

    try:
        return str(parse_utc(timestamp)) if timestamp else ""
    except (ValueError, OverflowError):
        return ""


def _by_student(results: list[UnitResult]) -> tuple[list[str], list[dict]]:
    assignments = sorted({r.assignment for r in results}, key=_assignment_order)
    students: dict[str, dict] = {}
    for r in results:
        s = students.setdefault(r.student_id, {"id": r.student_id, "results": {}, "total": 0})
        s["results"][r.assignment] = r
        s["total"] += r.score
    return assignments, sorted(students.values(), key=lambda s: s["id"])


def _assignment_order(name: str):
    ids = assignment_ids()
    return (ids.index(name) if name in ids else len(ids), name)


def write_summary(out: Path, results: list[UnitResult], problems: list[str], roster: list[str] | None = None) -> None:
    """The class report: grades/summary.html and grades/report/ (grader.report); ROSTER, the class list where a
    course has one (nbgrader's students), names who submitted nothing."""
    from grader.report import write_report

    write_report(out, results, problems, roster=roster, console=Console(stderr=True))


def print_summary(results: list[UnitResult], problems: list[str], console: Console | None = None) -> None:
    console = console or Console()
    assignments, students = _by_student(results)
    table = Table(title="Class summary (score / max)")
    table.add_column("student")
    for a in assignments:
        table.add_column(a, justify="right")
    table.add_column("total", justify="right")
    for s in students:
        cells = []
        for a in assignments:
            r = s["results"].get(a)
            if r is None:
                cells.append("—")
                continue
            mark = " ⚑" if r.needs_review else ""
            mark += " !" if r.status != "graded" else ""
            cells.append(f"{fmt(r.score)}/{fmt(r.max_score)}{mark}")
        table.add_row(s["id"], *cells, fmt(s["total"]))
    console.print(table)
    if any(r.needs_review for r in results):
        console.print("⚑ needs review (tampering patterns found, or nothing of the student's could be graded: "
                      "the reasons are in the gradebook and on the feedback page)")
    if any(r.status != "graded" for r in results):
        console.print("! not fully graded: see the feedback page")
    for problem in problems:
        console.print(f"[yellow]problem:[/yellow] {problem}", soft_wrap=True)  # one line each: greppable logs
