"""Canvas: the "Download Submissions" zip in, a gradebook-import CSV out.

File names in the bulk download (one flat zip, one file per uploaded file)::

    <lastfirst>[_late]_<user id>_<submission id>_<original name>

e.g. ``smithbob_340934_208490284_BobsWork.zip`` (public sample in the README of
mikewesthad/canvas-unzipper), ``giampietroelijahs_LATE_178647_16203579_ENG 301 Problem
Statement.docx`` (a public parser's sample; the late marker is matched in any case);
a file the student uploaded again under the same name keeps a ``-1``, ``-2`` suffix
before its extension (TimHanneman/Canvas_submission_sort, README and sub_name.awk).
The slug is ``lastfirst``; the numbers are the stable keys: the Canvas user id
(the gradebook's ``ID`` column) and the submission id.

Gradebook CSV (Canvas: Grades → Export, then Import): identity columns ``Student``,
``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section`` (some instances add
``Integration ID``, ``Root Account``), then one column per assignment named
``Name (id)``; the row after the header is ``Points Possible``; a new column
creates an assignment, and imported values overwrite (Canvas guides, "How do I
import grades in the Gradebook?"; OSU's CarmenCanvas guide "Import a CSV file to
Carmen Grades" lists the same required columns).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.lms.placing import CollectReport, Upload, place, safe_student_id
from grader.lms.results import fmt_points, load_results, scaled
from grader.lms.safezip import entries, read

CANVAS_NAME = re.compile(r"^(?P<slug>.+?)(?P<late>_late)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$",
                         re.IGNORECASE)
IDENTITY_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section")
POINTS_POSSIBLE = "Points Possible"


@dataclass(frozen=True)
class CanvasFile:
    slug: str
    late: bool
    user_id: str
    submission_id: str
    original_name: str


def parse_name(name: str) -> CanvasFile | None:
    """A bulk-download file name split into its parts, or None if Canvas does not write names like it."""
    match = CANVAS_NAME.match(name)
    if not match:
        return None
    return CanvasFile(match["slug"], bool(match["late"]), match["user"], match["submission"], match["original"])


@dataclass
class Gradebook:
    """A Canvas gradebook export: header, the rows before the students (Points Possible...), the students."""

    header: list[str]
    preamble: list[list[str]] = field(default_factory=list)
    students: list[list[str]] = field(default_factory=list)
    bom: bool = False

    @classmethod
    def read(cls, path: Path) -> "Gradebook":
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
        if not rows or "ID" not in rows[0] or "Student" not in rows[0]:
            raise ValueError(f"{path}: not a Canvas gradebook export (its first row needs the columns Student and "
                             f"ID; export it from Canvas: Grades → Export → Export Entire Gradebook)")
        book = cls(rows[0], bom=raw.startswith(b"\xef\xbb\xbf"))
        id_index = rows[0].index("ID")
        for row in rows[1:]:
            row = row + [""] * (len(book.header) - len(row))
            (book.students if row[id_index].strip() else book.preamble).append(row)
        return book

    def column(self, name: str) -> int:
        if name not in self.header:
            raise KeyError(f"the gradebook has no column {name!r} (it has: {', '.join(self.header[:8])}...)")
        return self.header.index(name)

    def id_map(self, id_column: str) -> dict[str, str]:
        """Canvas user id (column ``ID``) → the student id the kit uses (the value of ``id_column``)."""
        user, mine = self.column("ID"), self.column(id_column)
        return {row[user].strip(): row[mine].strip() for row in self.students}


def collect(zip_path: Path, assignment_id: str, into: Path, roster: Path | None = None,
            id_column: str = "ID") -> CollectReport:
    """Canvas's bulk download → ``INTO/<student>/<assignment>/<assignment>.ipynb``.

    The Canvas user id is the student id, unless ``roster`` (a gradebook export)
    maps it, through ``id_column`` (e.g. "SIS Login ID"), to another.
    """
    report = CollectReport()
    mapping = Gradebook.read(roster).id_map(id_column) if roster else None
    files, report.refused = entries(zip_path)
    uploads: list[Upload] = []
    for entry in files:
        if len(entry.parts) != 1:
            report.unrecognised.append(f"{entry.name}: inside a folder; Canvas's download is flat")
            continue
        parsed = parse_name(entry.parts[0])
        if parsed is None:
            report.unrecognised.append(f"{entry.name}: not <lastfirst>[_late]_<user id>_<submission id>_<name>")
            continue
        who = f"{parsed.slug} (Canvas user {parsed.user_id})"
        if not parsed.original_name.lower().endswith(".ipynb"):
            report.non_notebooks.append(f"{who}: {entry.name}")
            continue
        student_id = parsed.user_id
        if mapping is not None:
            if parsed.user_id not in mapping:
                report.unknown_students.append(f"{who}: {entry.name} (user id not in {roster})")
            elif safe_student_id(mapping[parsed.user_id]):
                report.unknown_students.append(f"{who}: {safe_student_id(mapping[parsed.user_id])} in the roster's "
                                               f"{id_column!r}; collected under the Canvas user id")
            else:
                student_id = mapping[parsed.user_id]
        try:
            data = read(zip_path, entry)
        except ValueError as err:
            report.refused.append(str(err))
            continue
        uploads.append(Upload(student_id, parsed.original_name, entry.name, data, parsed.slug, parsed.late))
    place(uploads, assignment_id, into, report)
    return report


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)
    no_result: list[str] = field(default_factory=list)
    not_in_roster: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{len(self.written)} grades written"]
        for title, items in (("roster students without a result (cell left empty: Canvas keeps what it has)",
                              self.no_result),
                             ("results for students not in the roster (NOT exported)", self.not_in_roster),
                             ("notes", self.notes)):
            if items:
                out.append(f"{title}: {len(items)}")
                out.extend(f"  {item}" for item in items)
        return out


def _assignment_column(header: list[str], assignment_id: str, explicit: dict[str, str]) -> str:
    """The roster's existing column for this assignment ("vgg (1234)"), the one named with --column, or a new one."""
    if assignment_id in explicit:
        return explicit[assignment_id]
    pattern = re.compile(rf"^{re.escape(assignment_id)}( \(\d+\))?$", re.IGNORECASE)
    matches = [h for h in header if pattern.match(h.strip())]
    return matches[0] if matches else assignment_id


def export(roster: Path, grades: Path, out: Path, assignments: list[str] | None = None, id_column: str = "ID",
           columns: dict[str, str] | None = None) -> ExportReport:
    """A gradebook-import CSV: the roster's identity columns and Points Possible row, one column per assignment."""
    book = Gradebook.read(roster)
    results, problems = load_results(grades, assignments)
    report = ExportReport(notes=problems)
    wanted = assignments or sorted({a for _, a in results})
    identity = [c for c in book.header if c in IDENTITY_COLUMNS]
    id_index = book.column(id_column)
    titles = {a: _assignment_column(book.header, a, columns or {}) for a in wanted}
    header = identity + [titles[a] for a in wanted]
    rows: list[list[str]] = []
    for row in book.preamble:
        label = row[book.column("Student")].strip()
        new = [row[book.header.index(c)] for c in identity]
        for a in wanted:
            title = titles[a]
            existing = row[book.header.index(title)] if title in book.header else ""
            if label == POINTS_POSSIBLE:
                maxima = {r["max_score"] for (s, ra), r in results.items() if ra == a}
                new.append(existing if title in book.header and existing.strip() else
                           fmt_points(max(maxima)) if maxima else "")
            else:
                new.append(existing)
        rows.append(new)
    points_row = next((r for r in book.preamble if r[book.column("Student")].strip() == POINTS_POSSIBLE), None)
    seen: set[str] = set()
    for row in book.students:
        student_id = row[id_index].strip()
        seen.add(student_id)
        new = [row[book.header.index(c)] for c in identity]
        for a in wanted:
            result = results.get((student_id, a))
            if result is None:
                report.no_result.append(f"{row[book.column('Student')]} ({id_column} {student_id}): {a}")
                new.append("")
                continue
            platform_max = None
            if points_row is not None and titles[a] in book.header:
                try:
                    platform_max = float(points_row[book.header.index(titles[a])])
                except ValueError:
                    platform_max = None
            score, note = scaled(float(result["score"]), float(result["max_score"]), platform_max)
            if note:
                report.notes.append(f"{student_id} {a}: {note}")
            new.append(fmt_points(score))
            report.written.append(f"{student_id} {a}: {fmt_points(score)}")
            if str(result.get("status", "")).startswith("not graded"):
                report.notes.append(f"{student_id} {a}: exported as {fmt_points(score)}: {result['status']}")
        rows.append(new)
    report.not_in_roster = sorted(f"{s} {a}: {fmt_points(r['score'])}/{fmt_points(r['max_score'])}"
                                  for (s, a), r in results.items() if a in wanted and s not in seen)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8-sig" if book.bom else "utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return report
