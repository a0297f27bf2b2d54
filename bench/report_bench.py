"""``python -m bench.report_bench`` (also printed by ``make bench``): the class report and the similar-code
search for 300 and 2,000 students, with the fingerprints already computed at grading time.

The class comes from the bench's own generator (bench.course: of every five students one submits the
solution, one the untouched release, three a mistake from bench.mistakes). Each distinct notebook the
generator makes is graded once, for real, by ``make grade``'s engine (so the messages, likely causes and
fingerprints are the grader's own); every student then gets the result of the notebook the generator gave
them. 2 % of the units are dropped (missing submissions) and every result carries a due date with 5 % of the
timestamps after it (late ones): synthetic, until the roster and due dates come from nbgrader.

Timed: loading the results from the gradebook, the similarity index alone, and the whole report
(``grader.report.write_report``: statistics, plots, similarity, every page). Target: under 10 s at 2,000.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
from grader.course import assignment_ids  # noqa: E402
from grader.i18n import LANGUAGES  # noqa: E402
from grader.results import UnitResult  # noqa: E402

ASSIGNMENTS = assignment_ids()
TARGET_S = 10.0
DUEDATE = "2025-01-01 12:00:00 UTC"
LATE_TIMESTAMP = "2025-01-02 09:30:00 UTC"


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def class_plan(n: int, assignments: tuple[str, ...], seed: int = 0) -> tuple[dict, dict]:
    """(variant notebooks per assignment, student → variant per assignment), as bench.course deals them out."""
    from bench.course import all_mistakes, kinds

    variants: dict[str, dict[str, nbformat.NotebookNode]] = {}
    plan: dict[str, dict[str, str]] = {}
    for task in assignments:
        solution = nbformat.read(REPO / "solutions" / task / f"{task}.ipynb", as_version=4)
        release = nbformat.read(REPO / "assignments" / task / f"{task}.ipynb", as_version=4)
        mistakes = all_mistakes(solution, release)
        random.Random(f"{seed}:{task}").shuffle(mistakes)
        variants[task] = {"full": solution, "stub": release}
        used = 0
        for index, kind in enumerate(kinds(n)):
            student = f"student{index + 1:04d}"
            if kind == "full" or (kind == "mistake" and not mistakes) or kind == "stub":
                key = "full" if kind == "full" else "stub"
            else:
                mistake = mistakes[used % len(mistakes)]
                used += 1
                key = mistake.label
                if key not in variants[task]:
                    nb = copy.deepcopy(solution)
                    for cell in nb.cells:
                        if _grade_id(cell) == mistake.grade_id:
                            cell.source = mistake.source
                    variants[task][key] = nb
            plan.setdefault(student, {})[task] = key
    return variants, plan


def grade_variants(variants: dict, work: Path, workers: int, lang: str = "en") -> dict[tuple[str, str], UnitResult]:
    """Every distinct notebook graded once by make grade's engine, in LANG: (assignment, variant) → result."""
    from grader.run import GradeRun
    from grader.settings import Settings

    names: dict[str, tuple[str, str]] = {}
    for task, by_key in variants.items():
        for key, nb in sorted(by_key.items()):
            folder = f"v{len(names):03d}"
            names[(folder, task)] = (task, key)
            path = work / "submitted" / folder / task / f"{task}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            clean = copy.deepcopy(nb)
            for cell in clean.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            nbformat.write(clean, path)
    run = GradeRun(work / "submitted", work / "variant-grades", workers=workers, force=True,
                   settings=Settings(workers=workers, out=work / "variant-grades", lang=lang),
                   console=Console(file=io.StringIO()))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        results = run.run()  # its progress lines and table are not the benchmark's
    return {names[(r["student_id"], r["assignment"])]: r for r in results}


def class_results(plan: dict, graded: dict, seed: int = 0) -> list[UnitResult]:
    """One result per student × assignment (2 % missing, 5 % late), each the graded result of its notebook."""
    rng = random.Random(f"report:{seed}")
    results = []
    for student, tasks in plan.items():
        for task, key in tasks.items():
            if rng.random() < 0.02:
                continue
            late = rng.random() < 0.05
            results.append(replace(graded[(task, key)], student_id=student, duedate=DUEDATE,
                                   timestamp=LATE_TIMESTAMP if late else "2025-01-01 11:00:00 UTC"))
    return results


def diversify(results: list[UnitResult], copiers: float = 0.01, seed: int = 0) -> list[UnitResult]:
    """The same class as if each student had written their own code: the index's harder case.

    Each fingerprint is kept as it is (a passage the whole class shares) with probability 0.3, shared only
    with the three neighbours in the student's group of four with probability 0.1, and otherwise made the
    student's own (salted with their id). One student in a hundred copies their predecessor's code whole.
    Synthetic: it stands in for a class that was not written by one generator.
    """
    from grader.similarity.fingerprints import pack_prints, unpack_prints

    rng = random.Random(f"diversify:{seed}")
    students = sorted({r["student_id"] for r in results})
    number = {s: i for i, s in enumerate(students)}
    copies = {s: students[i - 1] for i, s in enumerate(students) if i and rng.random() < copiers}
    out = []
    for r in results:
        author = copies.get(r["student_id"], r["student_id"])
        prints = r.get("fingerprints")
        if prints:
            cells = {}
            for gid, cell in prints["cells"].items():
                new = []
                for position, (h, first, last) in enumerate(unpack_prints(cell["prints"])):
                    draw = random.Random(f"{author}:{gid}:{position}").random()
                    salt = (None if draw < 0.3 else f"group{number[author] // 4}" if draw < 0.4 else author)
                    new.append((h if salt is None else hash((h, salt)) & (2 ** 53 - 1), first, last))
                cells[gid] = {**cell, "prints": pack_prints(new)}
            prints = {**prints, "cells": cells}
        out.append(replace(r, fingerprints=prints))
    return out


def fill_gradebook(path: Path, results: list[UnitResult]) -> None:
    from grader.gradebook import Gradebook

    book = Gradebook(path)
    book.db.execute("PRAGMA synchronous=OFF")  # set-up only: the timed part reads, it does not write
    for r in results:
        book.save(r, "bench", "bench")
    book.close()


def measure(n: int, graded: dict, plan_for: dict, work: Path, unique_code: bool = False, lang: str = "en") -> dict:
    from grader.gradebook import Gradebook
    from grader.report import write_report
    from grader.similarity import find_pairs

    results = class_results(plan_for, graded)
    if unique_code:
        results = diversify(results)
    out = work / f"grades-{n}{'-unique' if unique_code else ''}"
    fill_gradebook(out / "gradebook.db", results)
    wall, cpu = time.perf_counter(), time.process_time()
    book = Gradebook(out / "gradebook.db")
    loaded = book.results()
    book.close()
    load_s, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    started = time.perf_counter()
    similarity = find_pairs((r["student_id"], r["assignment"], r.get("fingerprints")) for r in loaded)
    index_s = time.perf_counter() - started
    wall, cpu = time.perf_counter(), time.process_time()
    summary = write_report(out, loaded, [], lang=lang)
    report_s, report_cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"students": n, "lang": lang, "scenario": "own code (synthetic)" if unique_code else "generator",
            "units": len(loaded), "load_s": round(load_s, 2), "index_s": round(index_s, 2),
            "report_s": round(report_s, 2), "total_s": round(load_s + report_s, 2),
            "total_cpu_s": round(load_cpu + report_cpu, 2), "load_average": round(os.getloadavg()[0], 1),
            "plots_s": summary.plot_seconds, "pages": summary.pages,
            "candidate_pairs": similarity.candidate_pairs, "flagged_pairs": len(similarity.pairs),
            "discounted": sum(e.discounted for e in similarity.exercises),
            "fingerprints": sum(e.fingerprints for e in similarity.exercises),
            "late": sum(1 for r in loaded if r["timestamp"] == LATE_TIMESTAMP),
            "missing": n * len(plan_for[next(iter(plan_for))]) - len(loaded)}


def fingerprint_cost(variants: dict) -> float:
    """Milliseconds per unit the grading-time hook spends (median over the distinct notebooks)."""
    from grader.notebook import read_cells
    from grader.similarity.fingerprints import fingerprint_unit

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, by_key in variants.items():
            release = REPO / "assignments" / task / f"{task}.ipynb"
            for key, nb in by_key.items():
                path = Path(tmp) / f"{task}.ipynb"
                nbformat.write(nb, path)
                cells = read_cells(path)
                started = time.perf_counter()
                fingerprint_unit(cells, release)
                times.append(time.perf_counter() - started)
    times.sort()
    return round(1000 * times[len(times) // 2], 2) if times else 0.0


def run(sizes: tuple[int, ...] = (300, 2000), workers: int = 0, console: Console | None = None,
        assignments: tuple[str, ...] = ASSIGNMENTS, keep: bool = False, langs: tuple[str, ...] = ("en",)) -> dict:
    """Grade the distinct notebooks once per language (the messages are in it), then time the report per size."""
    console = console or Console()
    work = Path(tempfile.mkdtemp(prefix="cnn-report-bench-"))
    try:
        largest = max(sizes)
        variants, plan = class_plan(largest, assignments)
        distinct = sum(len(v) for v in variants.values())
        rows = []
        grade_s = 0.0
        for lang in langs:
            console.print(f"report bench: grading the generator's {distinct} distinct notebooks once, "
                          f"lang={lang} (make grade's engine) …")
            started = time.perf_counter()
            graded = grade_variants(variants, work / lang, workers, lang)
            grade_s += time.perf_counter() - started
            for n in sizes:
                _, plan_n = class_plan(n, assignments)
                rows.append(measure(n, graded, plan_n, work / lang, lang=lang))
            rows.append(measure(largest, graded, plan, work / lang, unique_code=True, lang=lang))
        result = {"distinct_notebooks": distinct, "grading_distinct_s": round(grade_s, 1),
                  "fingerprint_ms_per_unit": fingerprint_cost(variants), "target_s": TARGET_S, "sizes": rows}
    finally:
        if keep:
            console.print(f"kept the reports in {work}/<lang>/grades-<students>/summary.html")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_report(result, console)
    return result


def _verdict(row: dict, target: float) -> str:
    if row["total_s"] < target:
        return "ok"
    return "missed (CPU time ok: a loaded machine)" if row["total_cpu_s"] < target else "MISSED"


def print_report(result: dict, console: Console) -> None:
    table = Table(title="Class report and similar-code pairs (fingerprints computed at grading time)")
    for name in ("students", "lang", "class", "units", "load s", "similarity index s", "whole report s",
                 "of it plots s",
                 "load + report s", "of it CPU s", f"target < {result['target_s']:g} s", "load avg", "pages",
                 "candidate pairs", "pairs flagged", "fingerprints (discounted)"):
        table.add_column(name, justify="right")
    for row in result["sizes"]:
        table.add_row(str(row["students"]), row.get("lang", "en"), row["scenario"], str(row["units"]),
                      f"{row['load_s']:.2f}",
                      f"{row['index_s']:.2f}",
                      f"{row['report_s']:.2f}", f"{row['plots_s']:.2f}", f"{row['total_s']:.2f}",
                      f"{row['total_cpu_s']:.2f}", _verdict(row, result["target_s"]), f"{row['load_average']:g}",
                      str(row["pages"]),
                      str(row["candidate_pairs"]), str(row["flagged_pairs"]),
                      f"{row['fingerprints']} ({row['discounted']})")
    console.print(table)
    console.print(f"fingerprints at grading time: {result['fingerprint_ms_per_unit']} ms per unit (median); "
                  f"{result['distinct_notebooks']} distinct notebooks graded in {result['grading_distinct_s']} s "
                  "(once per language; set-up, not in the figures). Every student's code is the solution or a "
                  "one-edit mutant of it, so most passages are shared by more than 10 students and discounted "
                  "(MOSS -m). "
                  "'own code (synthetic)': the largest class with each student's fingerprints made their own "
                  "(30 % kept class-wide, 10 % shared in groups of four, 1 % of students copying a neighbour): "
                  "the index's harder case.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="300,2000", help="class sizes (default 300,2000)")
    parser.add_argument("--workers", type=int, default=0, help="workers for grading the distinct notebooks")
    parser.add_argument("--json", default=str(REPO / "bench" / "out" / "report.json"),
                        help="where to write the numbers")
    parser.add_argument("--assignments", default=",".join(ASSIGNMENTS), help="comma-separated ids (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the written reports and print where they are")
    parser.add_argument("--lang", default="en",
                        help="the run's language(s), comma-separated: en, ko or en,ko (default en); the notebooks "
                             "are graded and the report written in each")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(",") if s.strip())
    tasks = tuple(a.strip() for a in args.assignments.split(",") if a.strip())
    unknown = [a for a in tasks if a not in ASSIGNMENTS]
    if unknown or not sizes or min(sizes) < 1:
        parser.error(f"unknown assignment(s) {unknown}" if unknown else "--sizes: positive class sizes, e.g. 300,2000")
    langs = tuple(dict.fromkeys(lang.strip() for lang in args.lang.split(",") if lang.strip()))
    if not langs or set(langs) - set(LANGUAGES):
        parser.error(f"--lang: choose from {', '.join(LANGUAGES)} (comma-separated)")
    result = run(sizes, args.workers, Console(width=200) if not sys.stdout.isatty() else Console(), tasks,
                 args.keep, langs)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0 if all(r["total_s"] < TARGET_S for r in result["sizes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
