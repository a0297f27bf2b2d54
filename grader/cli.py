"""``python -m grader``: the commands behind the Makefile.

One small function per subcommand: ``add_<name>(sub)`` declares its arguments
and points at ``<name>(args) -> exit code``. A new subcommand is one more pair
and one line in ``COMMANDS``. Every default comes from ``grader.settings.DEFAULTS``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from grader.course import CourseError, assignment_ids, course, project_root
from grader.i18n import LANGUAGES, set_language
from grader.settings import DEFAULTS, Settings


def settings_from(args: argparse.Namespace) -> Settings:
    """The run's settings: what the command line gave, the defaults for the rest."""
    return Settings(cell_timeout=args.cell_timeout, call_timeout=args.call_timeout,
                    submission_budget=args.submission_timeout, workers=args.workers, out=Path(args.out),
                    lang=args.lang or course().lang)


def add_lang(parser) -> None:
    parser.add_argument("--lang", choices=LANGUAGES, help="language of the feedback students read "
                        "(default: the course file's [course] lang, else en)")


def add_grade(sub) -> None:
    grade = sub.add_parser("grade", help="grade a folder of submissions into grades/")
    grade.add_argument("submissions", nargs="?", default=str(project_root() / "examples" / "submissions"),
                       help="SUBMISSIONS/<student>/<assignment>/<assignment>.ipynb (default: the bundled examples)")
    grade.add_argument("--out", default=str(DEFAULTS.out), help=f"output folder (default: {DEFAULTS.out})")
    grade.add_argument("--workers", type=int, default=DEFAULTS.workers,
                       help="parallel workers (default: one per core)")
    grade.add_argument("--force", action="store_true", help="grade again even if nothing changed")
    grade.add_argument("--assignment", action="append", choices=assignment_ids(),
                       help="only this assignment (repeatable)")
    grade.add_argument("--cell-timeout", type=float, default=DEFAULTS.cell_timeout,
                       help=f"seconds per notebook cell (default {DEFAULTS.cell_timeout:g})")
    grade.add_argument("--call-timeout", type=float, default=DEFAULTS.call_timeout,
                       help=f"seconds per call into student code (default {DEFAULTS.call_timeout:g})")
    grade.add_argument("--submission-timeout", type=float, default=DEFAULTS.submission_budget,
                       help=f"seconds for one student × assignment in all (default {DEFAULTS.submission_budget:g})")
    add_lang(grade)
    grade.add_argument("--cluster", metavar="ADDRESS", help="grade on a Dask cluster: a scheduler address "
                       "(tls://host:8786) or local:N, N worker processes on this machine (README: Grading on a cluster)")
    grade.set_defaults(func=grade_command)


def grade_command(args) -> int:
    from grader.backends import ClusterError
    from grader.run import GradeRun, SandboxUnavailable

    settings = settings_from(args)
    set_language(settings.lang)  # the coordinator writes the feedback pages and autograded notebooks
    try:
        results = GradeRun(Path(args.submissions), settings.out, workers=settings.workers, force=args.force,
                           only=tuple(args.assignment or ()), settings=settings, cluster=args.cluster).run()
    except (FileNotFoundError, SandboxUnavailable, ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(results)} results to {args.out}/ (grades.csv, results/, feedback/, summary.html, gradebook.db)")
    return 0


def add_check(sub) -> None:
    check = sub.add_parser("check", help="a student's self-check: run a notebook's visible checks")
    check.add_argument("notebook")
    add_lang(check)
    check.set_defaults(func=check_command)


def check_command(args) -> int:
    from grader.selfcheck import self_check

    set_language(args.lang or course().lang)
    return 1 if self_check(Path(args.notebook)) else 0


def add_release(sub) -> None:
    release = sub.add_parser("release", help="regenerate assignments/ from solutions/ and check for leaks")
    release.set_defaults(func=release_command)


def release_command(args) -> int:
    from grader.release import main

    return main()


def add_leakcheck(sub) -> None:
    leaks = sub.add_parser("leakcheck", help="check assignments/ for leaked solution or hidden-test text")
    leaks.set_defaults(func=leakcheck_command)


def leakcheck_command(args) -> int:
    from grader.release import find_leaks

    leaks = find_leaks(project_root())
    for leak in leaks:
        print(f"LEAK: {leak}", file=sys.stderr)
    return 1 if leaks else 0


def add_points(sub) -> None:
    points = sub.add_parser("points", help="print the points of every hidden test as a Markdown table (for the README)")
    points.add_argument("--grade-cells", action="store_true",
                        help="each exercise's nbgrader grade cell and points instead (for the README)")
    points.set_defaults(func=points_command)


def points_command(args) -> int:
    if args.grade_cells:
        from grader.nbgrader_course.exercises import grade_cells_table

        print(grade_cells_table())
        return 0
    from grader.docs import points_table

    print(points_table())
    return 0


def add_integrations(sub) -> None:
    """gradescope (autograder zips), collect / export (Canvas and Moodle): declared in their own packages."""
    from grader.gradescope.cli import register as register_gradescope
    from grader.lms.cli import register as register_lms

    register_gradescope(sub)
    register_lms(sub)


COMMANDS: list[Callable] = [add_grade, add_check, add_release, add_leakcheck, add_points, add_integrations]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
