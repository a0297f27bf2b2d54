"""Where a unit's time goes, per assignment: sandbox start, student cells, each hidden test split into the
trusted side, the sandbox's side and the wire; and the slowest ten tests, so that the next cut is obvious.

The measurements come from ``grader.profiling`` (on with ``GRADER_PROFILE=1``): ``make bench`` collects
them from its own grading run (bench/kit_driver.py). ``python -m bench.profile`` alone grades the bundled
examples in this process, one worker, and prints the same tables::

    python -m bench.profile [--submissions examples/submissions] [--assignments resnet,vgg] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from statistics import median

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent


CHILD_CPU = ("child_code_cpu_s", "child_describe_cpu_s", "child_wire_cpu_s")  # grader.wire.Meter's child_* seconds


def summarise(profiles: list[dict], slowest: int = 10) -> dict:
    """Per assignment, the median unit's parts (seconds) and the per-test medians; the slowest tests overall.

    A part's median is taken over units on its own, so the parts need not add up to the median total.
    """
    by_task: dict[str, list[dict]] = defaultdict(list)
    for profile in profiles:
        by_task[profile["assignment"]].append(profile)
    assignments, tests_all = {}, []
    for task, units in by_task.items():
        def med(key: str, rows=units) -> float:
            return median(r[key] for r in rows)

        per_test: dict[str, list[dict]] = defaultdict(list)
        for unit in units:
            for test in unit["tests"]:
                per_test[test["test"]].append(test)
        tests = []
        for name, rows in per_test.items():
            tests.append({"assignment": task, "test": name, "units": len(rows),
                          **{key: med(key, rows) for key in ("seconds", "trusted_s", "sandbox_s", "wire_s",
                                                              "wire_cpu_s", "requests", "bytes_sent",
                                                              "bytes_received")},
                          **{key: med(key, rows) if all(key in r for r in rows) else None
                             for key in CHILD_CPU}})
        tests_all += tests
        split = {key: median(sum(t[key] for t in u["tests"]) for u in units)
                 for key in ("trusted_s", "sandbox_s", "wire_s", "wire_cpu_s", "bytes_sent", "bytes_received",
                             "requests")}
        assignments[task] = {"units": len(units), **{key: med(key) for key in (
            "total_s", "sandbox_start_s", "cells_s", "tests_s", "pytest_overhead_s", "other_s")},
            **{key: med(key) if all(key in u for u in units) else None
               for key in ("prepare_s", "finish_s", "trusted_cpu_s", *CHILD_CPU)},
            "tests": split, "test_count": len(tests)}
    tests_all.sort(key=lambda t: t["seconds"], reverse=True)
    return {"assignments": assignments, "slowest": tests_all[:slowest], "units": len(profiles)}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _ms_or_dash(seconds: float | None) -> str:
    return "—" if seconds is None else _ms(seconds)


def _kb(count: float) -> str:
    return f"{count / 1024:.0f}"


def print_profile(summary: dict, console: Console, title: str = "") -> None:
    table = Table(title=title or f"Where a unit's time goes (median per unit, ms; {summary['units']} units)",
                  caption="tests = hidden tests' time: trusted side + sandbox side + wire; wire CPU = the trusted "
                          "worker's CPU time within the wire's (the wire's wall time on busy cores also holds the "
                          "time other processes ran); pytest = its own session around them; other = the rest: "
                          "before = reading, scanning, fingerprinting the notebook; after = closing the child, "
                          "cleaning up; and loading the reference once")
    for column in ("assignment", "units", "total", "sandbox start", "cells", "tests", "trusted", "sandbox",
                   "wire", "wire CPU", "KiB sent / received", "requests", "pytest", "other", "before", "after"):
        table.add_column(column, justify="left" if column == "assignment" else "right")
    for task, row in summary["assignments"].items():
        split = row["tests"]
        table.add_row(task, str(row["units"]), _ms(row["total_s"]), _ms(row["sandbox_start_s"]), _ms(row["cells_s"]),
                      _ms(row["tests_s"]), _ms(split["trusted_s"]), _ms(split["sandbox_s"]), _ms(split["wire_s"]),
                      _ms(split["wire_cpu_s"]), f"{_kb(split['bytes_sent'])} / {_kb(split['bytes_received'])}",
                      f"{split['requests']:.0f}",
                      _ms(row["pytest_overhead_s"]), _ms(row["other_s"]),
                      _ms_or_dash(row.get("prepare_s")), _ms_or_dash(row.get("finish_s")))
    console.print(table)
    print_cpu(summary, console)
    slow = Table(title="The slowest ten hidden tests (median over the units that ran them, ms)")
    for column in ("assignment", "test", "total", "trusted", "sandbox", "student code CPU", "wire", "wire CPU",
                   "KiB sent / received", "requests"):
        slow.add_column(column, justify="left" if column in ("assignment", "test") else "right")
    for test in summary["slowest"]:
        slow.add_row(test["assignment"], test["test"], _ms(test["seconds"]), _ms(test["trusted_s"]),
                     _ms(test["sandbox_s"]), _ms_or_dash(test.get("child_code_cpu_s")), _ms(test["wire_s"]),
                     _ms(test["wire_cpu_s"]), f"{_kb(test['bytes_sent'])} / {_kb(test['bytes_received'])}",
                     f"{test['requests']:.0f}")
    console.print(slow)


def print_cpu(summary: dict, console: Console) -> None:
    """Whose CPU a unit costs: the trusted worker's, and the child's, split as its answers report it.

    With one worker per core a unit's wall time is about the two added up (they take turns), so the
    student-code column is the part no change to the grader can cut: only running less of the students' code.
    """
    rows = [(task, row) for task, row in summary["assignments"].items() if row.get("child_code_cpu_s") is not None]
    if not rows:
        return
    table = Table(title="CPU time per unit (median, ms): the trusted worker, and the sandboxed child as its "
                        "answers report it",
                  caption="student code = the requests that run the student's code (cells, calls, attributes); "
                          "describing = the grader's descriptions of modules, made in the child; wire = the "
                          "child's decoding of requests and encoding and sending of answers; the child's start "
                          "(fork, isolation) is not in it")
    for column in ("assignment", "trusted worker", "child: student code", "child: describing", "child: wire",
                   "child: all three", "total"):
        table.add_column(column, justify="left" if column == "assignment" else "right")
    for task, row in rows:
        child = row["child_code_cpu_s"] + row["child_describe_cpu_s"] + row["child_wire_cpu_s"]
        trusted = row.get("trusted_cpu_s")
        table.add_row(task, _ms_or_dash(trusted), _ms(row["child_code_cpu_s"]), _ms(row["child_describe_cpu_s"]),
                      _ms(row["child_wire_cpu_s"]), _ms(child), _ms_or_dash(None if trusted is None else trusted + child))
    console.print(table)


def profile_examples(submissions: Path, assignments: list[str], repeat: int) -> tuple[list[dict], float]:
    """Grade every student × assignment under ``submissions`` ``repeat`` times in this process (the first pass
    pays collection and the reference's loading and is left out when repeat > 1); the profiles and CPU s/unit."""
    os.environ["GRADER_PROFILE"] = "1"
    from grader import profiling
    from grader.backends.local import _worker_init
    from grader.unit import grade_unit

    _worker_init()
    units = [(path, task, student.name) for student in sorted(submissions.iterdir()) if student.is_dir()
             for task in assignments for path in sorted((student / task).glob("*.ipynb"))[:1]]
    profiles: list[dict] = []
    cpu = 0.0
    for run in range(repeat):
        for path, task, student in units:
            began = time.process_time()
            grade_unit(path, task, student)
            profile = profiling.take()
            if run or repeat == 1:
                cpu += time.process_time() - began
                profiles.append(profile)
    return profiles, cpu / max(1, len(profiles))


def main(argv: list[str] | None = None) -> int:
    from grader.course import assignment_ids

    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", default=str(REPO / "examples" / "submissions"))
    parser.add_argument("--assignments", default="", help="comma-separated ids (default: all)")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the students (the first is a warm-up "
                                                              "when more than one; default 2)")
    parser.add_argument("--json", default="", help="also write the profiles and the summary here")
    args = parser.parse_args(argv)
    tasks = [a.strip() for a in args.assignments.split(",") if a.strip()] or list(assignment_ids(REPO))
    profiles, cpu = profile_examples(Path(args.submissions), tasks, max(1, args.repeat))
    if not profiles:
        print(f"no submissions of {', '.join(tasks)} under {args.submissions}", file=sys.stderr)
        return 2
    summary = summarise(profiles)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    print_profile(summary, console)
    console.print(f"CPU time of the grading process per unit: {cpu * 1000:.0f} ms (the sandboxed children's "
                  "CPU is not in it)")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "cpu_per_unit_s": cpu, "profiles": profiles},
                                              indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
