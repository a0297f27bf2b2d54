"""``python -m grader``: the commands behind the Makefile."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.course import ASSIGNMENTS, project_root


def _grade(args) -> int:
    from grader.backends import ClusterError
    from grader.run import GradeRun, SandboxUnavailable
    from grader.unit import Settings

    settings = Settings(cell_timeout=args.cell_timeout, call_timeout=args.call_timeout,
                        submission_budget=args.submission_timeout)
    try:
        results = GradeRun(Path(args.submissions), Path(args.out), workers=args.workers, force=args.force,
                           only=tuple(args.assignment or ()), settings=settings, cluster=args.cluster).run()
    except (FileNotFoundError, SandboxUnavailable, ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(results)} results to {args.out}/ (grades.csv, results/, feedback/, summary.html, gradebook.db)")
    return 0


def _check(args) -> int:
    from grader.selfcheck import self_check

    return 1 if self_check(Path(args.notebook)) else 0


def _release(args) -> int:
    from grader.release import main

    return main()


def _leaks(args) -> int:
    from grader.release import find_leaks

    leaks = find_leaks(project_root())
    for leak in leaks:
        print(f"LEAK: {leak}", file=sys.stderr)
    return 1 if leaks else 0


def _points(args) -> int:
    from grader.docs import points_table

    print(points_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade a folder of submissions into grades/")
    grade.add_argument("submissions", nargs="?", default=str(project_root() / "examples" / "submissions"),
                       help="SUBMISSIONS/<student>/<assignment>/<assignment>.ipynb (default: the bundled examples)")
    grade.add_argument("--out", default="grades", help="output folder (default: grades)")
    grade.add_argument("--workers", type=int, default=0, help="parallel workers (default: one per core)")
    grade.add_argument("--cluster", metavar="ADDRESS", help="grade on a Dask cluster: a scheduler address "
                       "(tls://host:8786) or local:N, N worker processes on this machine (README: Grading on a cluster)")
    grade.add_argument("--force", action="store_true", help="grade again even if nothing changed")
    grade.add_argument("--assignment", action="append", choices=ASSIGNMENTS, help="only this assignment (repeatable)")
    grade.add_argument("--cell-timeout", type=float, default=10.0, help="seconds per notebook cell (default 10)")
    grade.add_argument("--call-timeout", type=float, default=10.0, help="seconds per call into student code (default 10)")
    grade.add_argument("--submission-timeout", type=float, default=300.0,
                       help="seconds for one student × assignment in all (default 300)")
    grade.set_defaults(func=_grade)
    check = sub.add_parser("check", help="a student's self-check: run a notebook's visible checks")
    check.add_argument("notebook")
    check.set_defaults(func=_check)
    release = sub.add_parser("release", help="regenerate assignments/ from solutions/ and check for leaks")
    release.set_defaults(func=_release)
    leaks = sub.add_parser("leakcheck", help="check assignments/ for leaked solution or hidden-test text")
    leaks.set_defaults(func=_leaks)
    points = sub.add_parser("points", help="print the points of every hidden test as a Markdown table (for the README)")
    points.set_defaults(func=_points)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
