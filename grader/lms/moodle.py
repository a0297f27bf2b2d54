"""Moodle: the assignment's "Download all submissions" zip in, its grading worksheet filled out.

The download (moodle/moodle ``mod/assign/locallib.php``, ``download_submissions``):
each participant's files sit under a prefix built as
``clean_filename(str_replace('_', ' ', fullname) . '_' . get_uniqueid_for_user(userid))``,
then ``'_' . subtype . '_' . type . '_'``: in a folder per participant and plugin (the
default since Moodle 3.1, "Download submissions in folders")::

    <Full Name>_<participant id>_assignsubmission_file_/<file>

or flat, ``<Full Name>_<participant id>_assignsubmission_file_<file>``. The id is the
assignment's *participant id* (``get_uniqueid_for_user``), not the user id; under
blind marking the name is ``Participant`` (``get_string('participant', 'assign')``).
Underscores in names become spaces, so the name part holds no ``_``. A public guide
shows the same folders ("First Last_participantId_assignsubmission_file_").

The grading worksheet ("Download grading worksheet", ``mod/assign/gradingtable.php``,
``col_recordid``): its identifier column reads ``get_string('hiddenuser', 'assign') .
uniqueid``, "Participant 1510123" in English. The offline-grading import
(moodle/moodle ``mod/assign/feedback/offline/importgradeslib.php``) finds the columns
``get_string('recordid', 'assign')`` ("Identifier"), ``get_string('grade')`` ("Grade")
and ``get_string('lastmodifiedgrade', 'assign')`` ("Last modified (grade)") by name,
strips the participant id from the identifier, and skips a row whose grade changed in
Moodle after the worksheet was downloaded; so every cell but the grade is written back
exactly as it came. The names are translated on a site in another language
(``mod/assign/lang/<lang>/assign.php``): the command line can name them.
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
IDENTIFIER, GRADE, MAXIMUM = "Identifier", "Grade", "Maximum grade"
"""English column names (mod/assign/lang/en/assign.php: recordid, grade, maxgrade); a site in another language
translates them, so each can be named on the command line."""
PARTICIPANT_NUMBER = re.compile(r"(\d+)\s*$")


@dataclass
class Worksheet:
    """A Moodle grading worksheet, kept row for row so that it round-trips."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    bom: bool = False
    identifier: str = IDENTIFIER
    grade: str = GRADE
    maximum_column: str = MAXIMUM

    @classmethod
    def read(cls, path: Path, identifier: str = IDENTIFIER, grade: str = GRADE,
             maximum: str = MAXIMUM) -> "Worksheet":
        raw = path.read_bytes()
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
        if not rows or identifier not in rows[0] or grade not in rows[0]:
            found = ", ".join(rows[0]) if rows else "nothing"
            raise ValueError(f"{path}: not a Moodle grading worksheet: its first row needs the columns "
                             f"{identifier!r} and {grade!r} (found: {found}). Moodle: the assignment → View all "
                             f"submissions → Grading action → Download grading worksheet; on a site in another "
                             f"language, name the columns with --identifier-column and --grade-column")
        width = len(rows[0])
        return cls(rows[0], [r + [""] * (width - len(r)) for r in rows[1:] if any(c.strip() for c in r)],
                   raw.startswith(b"\xef\xbb\xbf"), identifier, grade, maximum)

    def participant(self, row: list[str]) -> str:
        match = PARTICIPANT_NUMBER.search(row[self.header.index(self.identifier)])
        return match.group(1) if match else ""

    def student_ids(self, id_column: str | None) -> dict[str, str]:
        """Participant id → the kit's student id (the participant id itself, or the value of ``id_column``)."""
        if id_column and id_column not in self.header:
            raise KeyError(f"the worksheet has no column {id_column!r} (it has: {', '.join(self.header)})")
        return {self.participant(r): (r[self.header.index(id_column)].strip() if id_column else self.participant(r))
                for r in self.rows if self.participant(r)}

    def has_maximum(self) -> bool:
        return any(name.strip().lower() == self.maximum_column.lower() for name in self.header)

    def maximum(self, row: list[str]) -> float | None:
        for index, name in enumerate(self.header):
            if name.strip().lower() == self.maximum_column.lower():  # "Maximum grade" or "Maximum Grade"
                try:
                    return float(row[index].replace(",", "."))
                except ValueError:
                    return None
        return None


def collect(zip_path: Path, assignment_id: str, into: Path, worksheet: Path | None = None,
            id_column: str | None = None, identifier: str = IDENTIFIER, grade: str = GRADE) -> CollectReport:
    """Moodle's bulk download → ``INTO/<student>/<assignment>/<assignment>.ipynb``.

    The student id is the participant id, or, with a worksheet and ``id_column``
    (e.g. "Email address"), that column's value on the participant's row.
    """
    report = CollectReport()
    mapping = Worksheet.read(worksheet, identifier, grade).student_ids(id_column) if worksheet else None
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


def export(worksheet: Path, grades: Path, out: Path, assignment_id: str, id_column: str | None = None,
           identifier: str = IDENTIFIER, grade_column: str = GRADE, maximum: str = MAXIMUM) -> ExportReport:
    """The worksheet with its ``Grade`` column filled from the kit's results; every other cell as downloaded."""
    sheet = Worksheet.read(worksheet, identifier, grade_column, maximum)
    results, problems = load_results(grades, [assignment_id])
    report = ExportReport(notes=problems)
    if not sheet.has_maximum():
        report.notes.append(f"no {maximum!r} column: grades written as the kit's points (check the assignment's "
                            f"maximum grade in Moodle, or name the column with --maximum-column)")
    ids = sheet.student_ids(id_column)
    grade = sheet.header.index(grade_column)
    seen: set[str] = set()
    rows = []
    for row in sheet.rows:
        row = list(row)
        student_id = ids.get(sheet.participant(row), "")
        seen.add(student_id)
        result = results.get((student_id, assignment_id))
        if result is None:
            report.no_result.append(f"{row[sheet.header.index(sheet.identifier)]} ({student_id or 'no id'})")
        else:
            score, note = scaled(float(result["score"]), float(result["max_score"]), sheet.maximum(row))
            if note:
                report.notes.append(f"{student_id}: {note}")
            row[grade] = fmt_points(score)
            report.written.append(f"{row[sheet.header.index(sheet.identifier)]}: {row[grade]}")
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
