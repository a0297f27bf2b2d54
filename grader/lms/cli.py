"""``python -m grader collect canvas|moodle`` and ``python -m grader export canvas|moodle``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.course import assignment_ids


def _print(title: str, lines: list[str]) -> None:
    print(title)
    for line in lines:
        print(f"  {line}")


def _collect(args) -> int:
    from grader.lms import canvas, moodle

    into = Path(args.into)
    try:
        if args.platform == "canvas":
            report = canvas.collect(Path(args.download), args.assignment, into, Path(args.roster) if args.roster
                                    else None, args.id_column or "ID")
        else:
            report = moodle.collect(Path(args.download), args.assignment, into,
                                    Path(args.worksheet) if args.worksheet else None, args.id_column,
                                    args.identifier_column, args.grade_column)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print(f"{args.platform} download {args.download} → {into}/<student>/{args.assignment}/:", report.lines())
    print(f"next: python -m grader grade {into} --assignment {args.assignment}")
    return 0


def _export(args) -> int:
    from grader.lms import canvas, moodle

    try:
        if args.platform == "canvas":
            columns = dict(c.split("=", 1) for c in args.column or [])
            report = canvas.export(Path(args.roster), Path(args.grades), Path(args.out), args.assignment,
                                   args.id_column or "ID", columns)
        else:
            if not args.assignment or len(args.assignment) != 1:
                print("error: a Moodle worksheet belongs to one assignment: give exactly one --assignment",
                      file=sys.stderr)
                return 2
            report = moodle.export(Path(args.worksheet), Path(args.grades), Path(args.out), args.assignment[0],
                                   args.id_column, args.identifier_column, args.grade_column, args.maximum_column)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print(f"wrote {args.out}:", report.lines())
    return 0


def _worksheet_columns(parser: argparse.ArgumentParser, maximum: bool) -> None:
    """Moodle translates the worksheet's column names: a site in another language names them here."""
    from grader.lms.moodle import GRADE, IDENTIFIER, MAXIMUM

    parser.add_argument("--identifier-column", default=IDENTIFIER, help=f"default {IDENTIFIER!r}")
    parser.add_argument("--grade-column", default=GRADE, help=f"default {GRADE!r}")
    if maximum:
        parser.add_argument("--maximum-column", default=MAXIMUM, help=f"default {MAXIMUM!r}")


def register(sub: argparse._SubParsersAction) -> None:
    collect = sub.add_parser("collect", help="an LMS bulk download (Canvas, Moodle) → SUBMISSIONS/<student>/<assignment>/")
    platforms = collect.add_subparsers(dest="platform", required=True)
    for name, helptext in (("canvas", "Canvas: Assignment → Download Submissions (a flat zip)"),
                           ("moodle", "Moodle: View all submissions → Download all submissions (folders)")):
        p = platforms.add_parser(name, help=helptext)
        p.add_argument("download", help="the zip the LMS gave you")
        p.add_argument("--assignment", required=True, choices=assignment_ids(), help="which assignment this zip holds")
        p.add_argument("--into", required=True, help="the SUBMISSIONS folder to write (created if needed)")
        if name == "canvas":
            p.add_argument("--roster", help="a Canvas gradebook export, to map Canvas user ids to other student ids")
            p.add_argument("--id-column", help="the roster column that becomes the student id (default: ID, "
                                               "the Canvas user id; e.g. 'SIS Login ID')")
        else:
            p.add_argument("--worksheet", help="the assignment's grading worksheet (CSV), to check participants")
            p.add_argument("--id-column", help="the worksheet column that becomes the student id (default: the "
                                               "participant id; e.g. 'Email address')")
            _worksheet_columns(p, maximum=False)
        p.set_defaults(func=_collect)
    export = sub.add_parser("export", help="grades/ → the LMS's gradebook import (Canvas CSV, Moodle worksheet)")
    platforms = export.add_subparsers(dest="platform", required=True)
    for name in ("canvas", "moodle"):
        p = platforms.add_parser(name, help=f"{name.capitalize()} gradebook import")
        if name == "canvas":
            p.add_argument("--roster", required=True, help="Canvas: Grades → Export → Export Entire Gradebook (CSV)")
            p.add_argument("--column", action="append", metavar="ASSIGNMENT=HEADER",
                           help="the gradebook column for an assignment, e.g. vgg='Lab 2: VGG (4567)' (default: "
                                "an existing column named like the assignment, else a new column)")
        else:
            p.add_argument("--worksheet", required=True, help="the assignment's grading worksheet (CSV)")
            _worksheet_columns(p, maximum=True)
        p.add_argument("--grades", default="grades", help="the kit's grades folder (default: grades)")
        p.add_argument("--assignment", action="append", choices=assignment_ids(),
                       help="assignment to export (repeatable; Canvas default: all graded; Moodle: exactly one)")
        p.add_argument("--id-column", help="the column that holds the kit's student ids (as in collect)")
        p.add_argument("--out", required=True, help="the CSV to write (then import it into the LMS)")
        p.set_defaults(func=_export)
