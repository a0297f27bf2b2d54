"""``python -m grader gradescope``: registered into ``grader.cli`` with one call."""
from __future__ import annotations

import argparse
from pathlib import Path

from grader.course import assignment_ids
from grader.i18n import LANGUAGES


def _run(args) -> int:
    from grader.gradescope.build import CourseOptions, main

    options = CourseOptions(visibility=args.visibility, gpu=args.gpu, timeout=args.timeout, lang=args.lang)
    return main(args.assignment or list(assignment_ids()), Path(args.out), options)


def register(sub: argparse._SubParsersAction) -> None:
    from grader.gradescope.autograder import DEFAULT_TIMEOUT
    from grader.gradescope.results import VISIBILITIES

    parser = sub.add_parser("gradescope", help="build Gradescope autograder zips (dist/gradescope/<assignment>.zip)")
    parser.add_argument("--assignment", action="append", choices=assignment_ids(),
                        help="only this assignment (repeatable; default: all)")
    parser.add_argument("--out", default="dist/gradescope", help="output folder (default: dist/gradescope)")
    parser.add_argument("--visibility", default="visible", choices=VISIBILITIES,
                        help="when students see each test's result (default: visible)")
    parser.add_argument("--gpu", action="store_true",
                        help="the course asks Gradescope for GPUs: setup.sh installs torch's CUDA build")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds for one upload in all (default {DEFAULT_TIMEOUT:g}); "
                             f"set Gradescope's own limit above it")
    parser.add_argument("--lang", choices=LANGUAGES, help="language of the feedback students read "
                        "(default: the course file's [course] lang, else en)")
    parser.set_defaults(func=_run)
