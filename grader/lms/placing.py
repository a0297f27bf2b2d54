"""Write collected notebooks into nbgrader's layout and keep the report of everything else.

Every path written here is built from a checked student id and the assignment
id, under ``--into``; nothing from the zip's names decides a folder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

FORBIDDEN_ID = re.compile(r"[/\\\x00-\x1f]")


def safe_student_id(student_id: str) -> str:
    """Why ``student_id`` cannot be a folder name under SUBMISSIONS, or ''."""
    if not student_id.strip():
        return "an empty student id"
    if student_id in (".", "..") or student_id.startswith("."):
        return f"the student id {student_id!r} starts with a dot"
    if FORBIDDEN_ID.search(student_id):
        return f"the student id {student_id!r} contains a slash, backslash or control character"
    if len(student_id.encode()) > 200:
        return "a student id longer than 200 bytes"
    return ""


def safe_file_name(name: str) -> str:
    """An uploaded file's own name, reduced to one harmless path component (for the several-notebooks case)."""
    name = FORBIDDEN_ID.sub("_", name).lstrip(".") or "notebook.ipynb"
    return name[:150]


@dataclass
class Upload:
    """One file one student handed in, as the LMS named it."""

    student_id: str
    original_name: str  # the name the student's file had (the LMS's prefix removed)
    entry_name: str  # the zip entry it came from
    data: bytes
    display_name: str = ""
    late: bool = False


@dataclass
class CollectReport:
    """What ``collect`` did; every file of the zip appears in exactly one list."""

    collected: list[str] = field(default_factory=list)
    several_notebooks: list[str] = field(default_factory=list)
    non_notebooks: list[str] = field(default_factory=list)
    unknown_students: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)

    SECTIONS = (("collected", "collected"), ("several_notebooks", "several notebooks from one student (NOT graded "
                "until you keep one: rename it to the assignment's name)"),
                ("duplicates", "already in SUBMISSIONS (left as they were)"),
                ("unknown_students", "students not in the roster/worksheet (collected under their LMS id)"),
                ("non_notebooks", "not notebooks (not collected)"),
                ("unrecognised", "names the LMS does not write (not collected)"),
                ("refused", "unsafe zip entries (not collected)"),
                ("late", "marked late by the LMS (no penalty here: the LMS's own late policy applies)"))

    def lines(self) -> list[str]:
        out = []
        for key, title in self.SECTIONS:
            items = getattr(self, key)
            if items:
                out.append(f"{title}: {len(items)}")
                out.extend(f"  {item}" for item in items)
        return out or ["the zip held no files"]


def place(uploads: list[Upload], assignment_id: str, into: Path, report: CollectReport) -> None:
    """Write each student's notebook as ``INTO/<student>/<assignment>/<assignment>.ipynb``.

    One notebook: written under the assignment's name. Several: each is written
    under its zip entry's (cleaned) file name and none under the assignment's name, so the
    grading run reports "several notebooks" for that student rather than the kit
    choosing one; the TA renames the right one.
    """
    by_student: dict[str, list[Upload]] = {}
    for upload in uploads:
        by_student.setdefault(upload.student_id, []).append(upload)
    for student_id, files in sorted(by_student.items()):
        folder = into / student_id / assignment_id
        if not folder.resolve().is_relative_to(into.resolve()):  # a link the TA left in SUBMISSIONS
            report.refused.extend(f"{f.entry_name}: {folder} leads outside {into}; not written" for f in files)
            continue
        label = f"{student_id}" + (f" ({files[0].display_name})" if files[0].display_name else "")
        if any(f.late for f in files):
            report.late.append(label)
        if len(files) == 1:
            targets = [(files[0], folder / f"{assignment_id}.ipynb")]
        else:
            report.several_notebooks.append(f"{label}: " + ", ".join(f.entry_name for f in files))
            names: set[str] = set()
            targets = []
            for number, f in enumerate(files, 1):
                name = safe_file_name(PurePosixPath(f.entry_name).name)
                if name in names or name == f"{assignment_id}.ipynb":
                    name = f"{number}-{name}"
                names.add(name)
                targets.append((f, folder / name))
        for upload, target in targets:
            if target.exists() or target.is_symlink():
                if target.is_file() and target.read_bytes() == upload.data:
                    report.collected.append(f"{label}: {upload.entry_name} (already there, unchanged)")
                else:
                    report.duplicates.append(f"{label}: {upload.entry_name}: {target} exists with other content; "
                                             f"kept it (delete it to collect this one)")
                continue
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(upload.data)
            if len(files) == 1:
                report.collected.append(f"{label}: {upload.entry_name} -> {target.relative_to(into)}")
