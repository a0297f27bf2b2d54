"""Canvas: the "Download Submissions" zip in, a gradebook-import CSV out.

File names in the bulk download, one flat zip (Canvas's own code: instructure/canvas-lms
``lib/content_zipper.rb``, ``get_filename`` and ``add_upload_submission``)::

    <lastfirst>[_LATE]_<user id>_<file id>_<file's display name>

``lastfirst`` is the student's sortable name, lower-cased, with every non-word
character removed (``gsub(/[^[[:word:]]]/, "")``: Unicode letters such as Hangul
stay, so "김, 서연" becomes ``김서연``); ``LATE`` marks a late submission; the user id
is the gradebook's ``ID`` column; the second number is the uploaded file's
(attachment's) id. Under anonymous grading the name is left out and the id is
``anon_<anonymous id>``. A file the student uploaded again under the same name
carries Canvas's ``-1``, ``-2`` suffix before its extension
(``Attachment.make_unique_filename`` in ``app/models/attachment.rb``), e.g.
``vgg-1.ipynb``. Public samples agree (the README of mikewesthad/canvas-unzipper,
TimHanneman/Canvas_submission_sort).

Gradebook CSV (Grades → Export; Grades → Import): identity columns ``Student``, ``ID``,
``SIS User ID``, ``SIS Login ID``, (``Integration ID``, ``Root Account``), ``Section``, then
one column per assignment named ``Name (id)``; a ``    Points Possible`` row (and,
where assignments post grades manually, a ``Manual Posting`` row) before the students
(instructure/canvas-lms ``spec/models/gradebook_importer_spec.rb``: students are looked
up by name, ID, SIS User ID or SIS Login ID; new columns create assignments). Imported
values overwrite (Canvas guides; OSU's "Import a CSV file to Carmen Grades",
https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades).
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

CANVAS_NAME = re.compile(r"^(?P<slug>.+?)(?:_(?P<late>LATE))?_(?P<user>\d+)_(?P<file>\d+)_(?P<original>.+)$",
                         re.IGNORECASE)  # LATE as Canvas writes it; any case accepted
CANVAS_ANONYMOUS = re.compile(r"^(?:(?P<late>LATE)_)?(?P<user>anon_[0-9a-z]+)_(?P<file>\d+)_(?P<original>.+)$",
                              re.IGNORECASE)
IDENTITY_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section")
POINTS_POSSIBLE = "Points Possible"


@dataclass(frozen=True)
class CanvasFile:
    slug: str
    late: bool
    user_id: str  # the Canvas user id, or anon_<anonymous id> under anonymous grading
    file_id: str
    original_name: str


def parse_name(name: str) -> CanvasFile | None:
    """A bulk-download file name split into its parts, or None if Canvas does not write names like it."""
    match = CANVAS_ANONYMOUS.match(name) or CANVAS_NAME.match(name)
    if not match:
        return None
    slug = match.groupdict().get("slug") or ""
    return CanvasFile(slug, bool(match["late"]), match["user"], match["file"], match["original"])


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
            report.unrecognised.append(f"{entry.name}: not <lastfirst>[_LATE]_<user id>_<file id>_<name>")
            continue
        who = f"{parsed.slug or 'anonymous'} (Canvas user {parsed.user_id})"
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
