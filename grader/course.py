"""The course as data: which assignments exist and where their files are (``course.toml`` at the kit's root).

Everything that needs the list of assignments (the grader, ``make release``,
``make bench``, the README's tables, the project's tests) asks here; adding an
assignment is a solutions notebook, a test file and one entry in the course file
(docs/adding-an-assignment.md).
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, before it joined the standard library
    import tomli as tomllib

from grader.i18n import ENGLISH, catalog_path, normalise
from grader.notebook import read_cells

COURSE_FILE = "course.toml"
SOURCE_DIRECTORY = "solutions"  # nbgrader's source and release folders (nbgrader_config.py)
RELEASE_DIRECTORY = "assignments"
_ID = re.compile(r"[a-z][a-z0-9_]*")


class CourseError(ValueError):
    """The course file is missing or wrong; the message names the file and the entry."""


def project_root() -> Path:
    """The kit's checkout: $CNN_KIT_ROOT, else the folder above this package."""
    return Path(os.environ.get("CNN_KIT_ROOT", Path(__file__).resolve().parent.parent))


@dataclass(frozen=True)
class Assignment:
    id: str
    root: Path
    title: str = ""
    source: str = ""
    tests_file: str = ""
    release: str = ""

    @property
    def source_notebook(self) -> Path:
        return self.root / (self.source or f"{SOURCE_DIRECTORY}/{self.id}/{self.id}.ipynb")

    @property
    def release_notebook(self) -> Path:
        return self.root / (self.release or f"{RELEASE_DIRECTORY}/{self.id}/{self.id}.ipynb")

    @property
    def tests(self) -> Path:
        return self.root / (self.tests_file or f"autograde_tests/test_{self.id}.py")

    @property
    def notebook_name(self) -> str:
        """The file a student submits: SUBMISSIONS/<student>/<id>/<notebook_name>."""
        return self.source_notebook.name

    def solution_ids(self) -> list[str]:
        return _solution_ids(self.source_notebook)

    def tests_hash(self) -> str:
        """Changes whenever the hidden tests, the reference solutions or the grader itself change."""
        digest = hashlib.sha256()
        package = Path(__file__).resolve().parent
        for path in [self.tests, self.source_notebook, *sorted(package.rglob("*.py"))]:
            digest.update(path.name.encode())
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()[:16]

    def catalog(self, lang: str) -> Path:
        """This assignment's translations into ``lang``: beside its hidden tests (grader.i18n.catalog_dir)."""
        return self.tests.parent / "locale" / lang / "LC_MESSAGES" / f"{self.id}.po"

    def grading_key(self, lang: str = ENGLISH) -> str:
        """What a graded result depends on, so that an unchanged one is not graded again (the gradebook's key).

        In English, ``tests_hash()`` itself (a gradebook from before translations stays current); in another
        language also the language and its catalogs (the grader's and this assignment's): a result written in one
        language is never reused for another, and a corrected translation grades again.
        """
        key = self.tests_hash()
        lang = normalise(lang)
        if lang == ENGLISH:
            return key
        digest = hashlib.sha256(f"{key}\0{lang}".encode())
        for path in (catalog_path("grader", lang), self.catalog(lang)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Course:
    root: Path
    title: str
    assignments: tuple[Assignment, ...]
    lang: str = "en"
    """The language of student feedback unless a run says otherwise (``[course] lang``: "en" or "ko")."""

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.assignments)

    def __getitem__(self, assignment_id: str) -> Assignment:
        for task in self.assignments:
            if task.id == assignment_id:
                return task
        raise KeyError(f"unknown assignment '{assignment_id}' (known: {', '.join(self.ids)}; "
                       f"the course's assignments are listed in {self.root / COURSE_FILE})")


def course(root: Path | None = None) -> Course:
    """The course at ROOT (default: the kit's checkout), read again whenever its file changes."""
    path = (root or project_root()) / COURSE_FILE
    try:
        stat = path.stat()
    except OSError as err:
        raise CourseError(f"{path}: cannot read the course file ({err.strerror}); every kit has one at its root, "
                          "listing the assignments (docs/adding-an-assignment.md)") from None
    return _read_course(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _read_course(path: Path, _mtime_ns: int, _size: int) -> Course:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise CourseError(f"{path}: not a readable TOML file: {err}") from None
    entries = data.get("assignments")
    if not isinstance(entries, list) or not entries:
        raise CourseError(f"{path}: no [[assignments]] entries")
    tasks: list[Assignment] = []
    for number, entry in enumerate(entries, start=1):
        tasks.append(_assignment(path, number, entry, {t.id for t in tasks}))
    head = data.get("course", {}) if isinstance(data.get("course"), dict) else {}
    try:
        lang = normalise(str(head.get("lang", "en")))
    except ValueError as err:
        raise CourseError(f"{path}: [course] lang: {err}") from None
    return Course(path.parent, str(head.get("title", "")), tuple(tasks), lang)


def _assignment(path: Path, number: int, entry: object, seen: set[str]) -> Assignment:
    where = f"{path}: assignment {number}"
    if not isinstance(entry, dict):
        raise CourseError(f"{where}: expected a table with id, source, tests and release")
    task_id = entry.get("id")
    if not isinstance(task_id, str) or not _ID.fullmatch(task_id):
        raise CourseError(f"{where}: id {task_id!r} must be lower-case letters, digits and _ (it names folders)")
    if task_id in seen:
        raise CourseError(f"{where}: the id '{task_id}' is listed twice")
    unknown = set(entry) - {"id", "title", "source", "tests", "release"}
    if unknown:
        raise CourseError(f"{where} ('{task_id}'): unknown key(s) {', '.join(sorted(unknown))}")
    source = str(entry.get("source", f"{SOURCE_DIRECTORY}/{task_id}/{task_id}.ipynb"))
    release = str(entry.get("release", f"{RELEASE_DIRECTORY}/{task_id}/{PurePosixPath(source).name}"))
    tests = str(entry.get("tests", f"autograde_tests/test_{task_id}.py"))
    # nbgrader's generate_assignment reads <source dir>/<id>/<name> and writes <release dir>/<id>/<name>
    for key, value, folder in (("source", source, SOURCE_DIRECTORY), ("release", release, RELEASE_DIRECTORY)):
        parts = PurePosixPath(value).parts
        if len(parts) != 3 or parts[:2] != (folder, task_id) or not value.endswith(".ipynb"):
            raise CourseError(f"{where} ('{task_id}'): {key} = {value!r} must be {folder}/{task_id}/<name>.ipynb "
                              "(nbgrader's layout)")
    if PurePosixPath(source).name != PurePosixPath(release).name:
        raise CourseError(f"{where} ('{task_id}'): source and release must have the same file name")
    parts = PurePosixPath(tests).parts
    if len(parts) != 2 or parts[0] != "autograde_tests" or not re.fullmatch(r"test_\w+\.py", parts[1]):
        raise CourseError(f"{where} ('{task_id}'): tests = {tests!r} must be autograde_tests/test_<name>.py")
    return Assignment(task_id, path.parent, str(entry.get("title", "")), source, tests, release)


@lru_cache(maxsize=None)
def _solution_ids(path: Path) -> list[str]:
    return [c.grade_id for c in read_cells(path) if c.kind == "solution" and c.grade_id]


def assignment_ids(root: Path | None = None) -> tuple[str, ...]:
    """The course's assignment ids, in the course file's order."""
    return course(root).ids


def assignment(assignment_id: str, root: Path | None = None) -> Assignment:
    return course(root)[assignment_id]


def __getattr__(name: str):
    """``ASSIGNMENTS``: the ids, read from the course file each time (code written before the course file)."""
    if name == "ASSIGNMENTS":
        return assignment_ids()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
