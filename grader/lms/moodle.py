"""Moodle: the assignment's "Download all submissions" zip in, its grading worksheet filled out.

The download (Moodle's ``mod/assign/locallib.php``, ``download_submissions``):
each participant's files sit under a prefix built as
``clean_filename(str_replace('_', ' ', fullname) . '_' . get_uniqueid_for_user(userid))``,
then ``'_' . subtype . '_' . type . '_'``: in folders (the default since Moodle 3.1,
"Download submissions in folders")::

    <Full Name>_<participant id>_assignsubmission_file_/<file>

or flat, ``<Full Name>_<participant id>_assignsubmission_file_<file>``. The id is
the assignment's *participant id* (``get_uniqueid_for_user``), not the user id;
under blind marking the name is ``Participant`` (``get_string('participant', 'assign')``).
Underscores in names become spaces, so the name part holds no ``_``.

The grading worksheet ("Download grading worksheet", ``mod/assign/gradingtable.php``):
a CSV whose ``Identifier`` column reads ``Participant <participant id>``
(``get_string('hiddenuser', 'assign') . uniqueid``); the offline-grading import
(``mod/assign/feedback/offline/importgradeslib.php``) finds the columns
``Identifier``, ``Grade`` and ``Last modified (grade)`` by their names and skips a
row whose grade changed in Moodle after the worksheet was downloaded, so every
column but ``Grade`` is written back exactly as it came.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.lms.canvas import ExportReport
from grader.lms.placing import CollectReport, Upload, place, safe_student_id
from grader.lms.results import fmt_points, load_results, scaled
from grader.lms.safezip import entries, read

MOODLE_PREFIX = re.compile(r"^(?P<name>[^_]*)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
IDENTIFIER, GRADE = "Identifier", "Grade"
PARTICIPANT_NUMBER = re.compile(r"(\d+)\s*$")


@dataclass
class Worksheet:
    """A Moodle grading worksheet, kept row for row so that it round-trips."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    bom: bool = False

    @classmethod
    def read(cls, path: Path) -> "Worksheet":
        raw = path.read_bytes()
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
        if not rows or IDENTIFIER not in rows[0] or GRADE not in rows[0]:
            raise ValueError(f"{path}: not a Moodle grading worksheet (its first row needs the columns "
                             f"{IDENTIFIER!r} and {GRADE!r}; Moodle: the assignment → View all submissions → "
                             f"Grading action → Download grading worksheet)")
        width = len(rows[0])
        return cls(rows[0], [r + [""] * (width - len(r)) for r in rows[1:] if any(c.strip() for c in r)],
                   raw.startswith(b"\xef\xbb\xbf"))

    def participant(self, row: list[str]) -> str:
        match = PARTICIPANT_NUMBER.search(row[self.header.index(IDENTIFIER)])
        return match.group(1) if match else ""

    def student_ids(self, id_column: str | None) -> dict[str, str]:
        """Participant id → the kit's student id (the participant id itself, or the value of ``id_column``)."""
        if id_column and id_column not in self.header:
            raise KeyError(f"the worksheet has no column {id_column!r} (it has: {', '.join(self.header)})")
        return {self.participant(r): (r[self.header.index(id_column)].strip() if id_column else self.participant(r))
                for r in self.rows if self.participant(r)}

    def maximum(self, row: list[str]) -> float | None:
        for index, name in enumerate(self.header):
            if name.strip().lower() == "maximum grade":
                try:
                    return float(row[index].replace(",", "."))
                except ValueError:
                    return None
        return None


def collect(zip_path: Path, assignment_id: str, into: Path, worksheet: Path | None = None,
            id_column: str | None = None) -> CollectReport:
    """Moodle's bulk download → ``INTO/<student>/<assignment>/<assignment>.ipynb``.

    The student id is the participant id, or, with a worksheet and ``id_column``
    (e.g. "Email address"), that column's value on the participant's row.
    """
    report = CollectReport()
    mapping = Worksheet.read(worksheet).student_ids(id_column) if worksheet else None
    files, report.refused = entries(zip_path)
    uploads: list[Upload] = []
    for entry in files:
        match = MOODLE_PREFIX.match(entry.parts[0])
        if match is None:
            report.unrecognised.append(f"{entry.name}: not <Full Name>_<participant id>_assignsubmission_<plugin>_")
            continue
        if len(entry.parts) > 1:
            original = entry.parts[-1]
        elif match["rest"]:
            original = match["rest"]
        else:
            report.unrecognised.append(f"{entry.name}: a participant prefix with no file name")
            continue
        participant, name = match["participant"], match["name"]
        who = f"{name} (participant {participant})"
        if match["plugin"] != "file" or not original.lower().endswith(".ipynb"):
            report.non_notebooks.append(f"{who}: {entry.name}")
            continue
        student_id = participant
        if mapping is not None:
            if participant not in mapping:
                report.unknown_students.append(f"{who}: {entry.name} (no 'Participant {participant}' row in "
                                               f"{worksheet})")
            elif safe_student_id(mapping[participant]):
                report.unknown_students.append(f"{who}: {safe_student_id(mapping[participant])} in the worksheet's "
                                               f"{id_column!r}; collected under the participant id")
            else:
                student_id = mapping[participant]
        try:
            data = read(zip_path, entry)
        except ValueError as err:
            report.refused.append(str(err))
            continue
        uploads.append(Upload(student_id, original, entry.name, data, name))
    place(uploads, assignment_id, into, report)
    return report


def export(worksheet: Path, grades: Path, out: Path, assignment_id: str, id_column: str | None = None) -> ExportReport:
    """The worksheet with its ``Grade`` column filled from the kit's results; every other cell as downloaded."""
    sheet = Worksheet.read(worksheet)
    results, problems = load_results(grades, [assignment_id])
    report = ExportReport(notes=problems)
    ids = sheet.student_ids(id_column)
    grade = sheet.header.index(GRADE)
    seen: set[str] = set()
    rows = []
    for row in sheet.rows:
        row = list(row)
        student_id = ids.get(sheet.participant(row), "")
        seen.add(student_id)
        result = results.get((student_id, assignment_id))
        if result is None:
            report.no_result.append(f"{row[sheet.header.index(IDENTIFIER)]} ({student_id or 'no id'})")
        else:
            score, note = scaled(float(result["score"]), float(result["max_score"]), sheet.maximum(row))
            if note:
                report.notes.append(f"{student_id}: {note}")
            row[grade] = fmt_points(score)
            report.written.append(f"{row[sheet.header.index(IDENTIFIER)]}: {row[grade]}")
            if str(result.get("status", "")).startswith("not graded"):
                report.notes.append(f"{student_id}: exported as {row[grade]}: {result['status']}")
        rows.append(row)
    report.not_in_roster = sorted(f"{s}: {fmt_points(r['score'])}/{fmt_points(r['max_score'])}"
                                  for (s, a), r in results.items() if s not in seen)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8-sig" if sheet.bom else "utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(sheet.header)
        writer.writerows(rows)
    return report
