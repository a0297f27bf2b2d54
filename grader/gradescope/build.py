"""``make gradescope``: one Gradescope autograder zip per assignment, ``dist/gradescope/<assignment>.zip``.

Layout (Gradescope's specification, https://gradescope-autograders.readthedocs.io/en/latest/specs/:
``setup.sh`` and ``run_autograder`` at the zip's root, not inside a folder)::

    setup.sh  run_autograder          Gradescope's two entry points (grader/gradescope/files/)
    gradescope.json                   the course's choices: assignment, visibility, gpu, timeout, language, the hidden
                                      tests' points
    course.toml                       this course with the one assignment (and its ``[course] lang``)
    requirements.txt                  the exact pins of pyproject.toml (setup.sh installs them)
    pyproject.toml  README.md  nbgrader_config.py
    grader/                           the kit's grader package (setup.sh installs it, editable, into the venv)
    autograde_tests/test_<id>.py      the hidden tests (never reachable from the sandbox)
    autograde_tests/locale/           the hidden tests' translations (``<lang>/LC_MESSAGES/<id>.po``)
    solutions/<id>/                   the reference solution (loaded in the trusted process only)

Entries come in a fixed order, dated 1980-01-01, so that the same kit gives the same bytes.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.course import assignment as get_assignment, assignment_ids, course, project_root
from grader.gradescope.autograder import DEFAULT_TIMEOUT
from grader.gradescope.results import VISIBILITIES
from grader.i18n import N_, _, language, normalise, set_language

FILES = Path(__file__).resolve().parent / "files"
EXECUTABLE = 0o100755 << 16
REGULAR = 0o100644 << 16
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
NOT_INSTALLED = N_("Not graded: the autograder is not installed (setup.sh did not finish). Your instructor has been "
                   "told by this message; resubmit once they fix it.")
"""What ``run_autograder`` writes when setup.sh did not finish (no Python to translate it then: the zip's copy of
the script carries it in the zip's language)."""


@dataclass(frozen=True)
class CourseOptions:
    """What a course decides about its Gradescope autograder (``make gradescope ARGS="--visibility hidden --gpu"``)."""

    visibility: str = "visible"
    gpu: bool = False
    timeout: float = DEFAULT_TIMEOUT
    lang: str | None = None
    """The language of what students read (``--lang``); None: the course file's ``[course] lang``."""

    def __post_init__(self):
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"visibility {self.visibility!r}: use one of {', '.join(VISIBILITIES)}")
        if self.lang is not None:
            object.__setattr__(self, "lang", normalise(self.lang))

    def language(self, root: Path | None = None) -> str:
        return self.lang or course(root).lang


def pinned_requirements(root: Path) -> list[str]:
    """``pyproject.toml``'s dependencies, verbatim: the one place the kit pins versions."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the installed kit's metadata holds the same list
        from importlib.metadata import requires

        return [r for r in requires("modern-cnn-kit") or [] if "extra ==" not in r]
    with open(root / "pyproject.toml", "rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def _kit_files(root: Path, assignment_id: str) -> list[tuple[str, Path]]:
    """(name in the zip, file here) for everything grading needs, and nothing of other assignments."""
    entries: list[tuple[str, Path]] = []
    for name in ("pyproject.toml", "README.md", "nbgrader_config.py"):  # pyproject names README.md: setup.sh installs it
        if (root / name).is_file():
            entries.append((name, root / name))
    for folder in ("grader", f"solutions/{assignment_id}", f"assignments/{assignment_id}"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts \
                    and path.suffix != ".pyc":
                entries.append((path.relative_to(root).as_posix(), path))
    others = {f"test_{a}.py" for a in assignment_ids(root) if a != assignment_id}
    for path in sorted((root / "autograde_tests").iterdir()):
        if path.is_file() and path.name not in others and path.suffix == ".py":
            entries.append((path.relative_to(root).as_posix(), path))
    for path in sorted((root / "autograde_tests" / "locale").glob(f"*/LC_MESSAGES/{assignment_id}.po")):
        entries.append((path.relative_to(root).as_posix(), path))   # the hidden tests' words in each language
    return entries


def course_config(assignment_id: str, options: CourseOptions) -> dict:
    """``gradescope.json``: read by setup.sh (gpu) and by the autograder (everything else)."""
    from grader.unit import collect_tests

    task = get_assignment(assignment_id)
    lang, before = options.language(), language()
    set_language(lang)   # the test titles, as students read them when nothing could be graded
    try:
        tests = [{"name": t["name"], "title": t["title"], "max_points": t["max_points"]} for t in collect_tests(task)]
    finally:
        set_language(before)
    return {"assignment": assignment_id, "visibility": options.visibility, "gpu": options.gpu,
            "timeout": options.timeout, "lang": lang, "settings": {"lang": lang}, "tests": tests,
            "max_score": sum(t["max_points"] for t in tests), "kit_hash": task.grading_key(lang)}


def course_file(root: Path, assignment_id: str, lang: str = "en") -> str:
    """The zip's course.toml: this course with only the one assignment the zip grades, in ``lang``."""
    task = course(root)[assignment_id]
    files = {key: getattr(task, attr).relative_to(root).as_posix() for key, attr in
             (("source", "source_notebook"), ("tests", "tests"), ("release", "release_notebook"))}
    entry = "".join(f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in files.items())
    return f"[course]\nlang = {json.dumps(lang)}\n\n[[assignments]]\nid = {json.dumps(assignment_id)}\n{entry}"


def run_autograder_script(lang: str) -> bytes:
    """``files/run_autograder`` with its one message to students in ``lang``."""
    script = (FILES / "run_autograder").read_bytes()
    before = language()
    set_language(lang)
    try:
        words = _(NOT_INSTALLED)
    finally:
        set_language(before)
    quoted = json.dumps(words, ensure_ascii=False)[1:-1].replace("'", "'\\''")  # inside '...' in the script
    return script.replace(NOT_INSTALLED.encode(), quoted.encode())


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = REGULAR) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.external_attr = mode
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_zip(assignment_id: str, out_dir: Path, options: CourseOptions | None = None,
              root: Path | None = None) -> Path:
    """Write ``out_dir/<assignment>.zip`` and return its path."""
    options = options or CourseOptions()
    root = root or project_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{assignment_id}.zip"
    tmp = target.with_suffix(".zip.tmp")
    config = course_config(assignment_id, options)
    with zipfile.ZipFile(tmp, "w") as archive:
        _add(archive, "setup.sh", (FILES / "setup.sh").read_bytes(), EXECUTABLE)
        _add(archive, "run_autograder", run_autograder_script(config["lang"]), EXECUTABLE)
        _add(archive, "gradescope.json", json.dumps(config, indent=1, ensure_ascii=False).encode())
        _add(archive, "requirements.txt", ("\n".join(pinned_requirements(root)) + "\n").encode())
        _add(archive, "course.toml", course_file(root, assignment_id, config["lang"]).encode())
        for name, path in _kit_files(root, assignment_id):
            _add(archive, name, path.read_bytes(), EXECUTABLE if path.stat().st_mode & 0o111 else REGULAR)
    tmp.replace(target)
    return target


def main(assignments: list[str], out_dir: Path, options: CourseOptions) -> int:
    for assignment_id in assignments:
        path = build_zip(assignment_id, out_dir, options)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB): upload it as the Gradescope autograder "
              f"of '{assignment_id}' (visibility {options.visibility}, {'GPU' if options.gpu else 'CPU'} torch, "
              f"feedback in {options.language()})")
    return 0
