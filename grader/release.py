"""``make release``: regenerate ``assignments/`` from ``solutions/`` with nbgrader, then prove nothing leaked."""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat

from grader.course import RELEASE_DIRECTORY, Assignment, course, project_root

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n?(.*?)### END SOLUTION", re.S)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n?(.*?)### END HIDDEN TESTS", re.S)
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


class ReleaseError(Exception):
    """nbgrader refused a source notebook; the message names it."""


def _tasks(root: Path, assignment_ids: Iterable[str] | None) -> list[Assignment]:
    """The course's assignments at ROOT (its course file), all of them or the ones named."""
    the_course = course(root)
    return [the_course[task] for task in (the_course.ids if assignment_ids is None else assignment_ids)]


def generate(root: Path, assignment_ids: Iterable[str] | None = None) -> None:
    """Run nbgrader's own generate_assignment for each assignment, in-process (one import, not five).

    nbgrader runs ``alembic`` for its database, so the venv's bin/ must be on PATH.
    """
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    from grader.nbgrader_course.exercises import stamp_points

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    (root / ".nbgrader").mkdir(exist_ok=True)  # nbgrader's own database lives here, outside git
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    api = NbGraderAPI(config=config)
    tasks = _tasks(root, assignment_ids)
    for task in tasks:
        stamp_points(task.source_notebook, task.id)  # grade cells worth the hidden tests' points
        outcome = api.generate_assignment(task.id, force=True)
        if not outcome["success"]:
            log = outcome.get("error") or outcome.get("log") or ""
            raise ReleaseError(f"nbgrader generate_assignment failed for {task.source}:\n{log[-3000:]}")
        clear_outputs(task.release_notebook)
    write_manifest(root, [task.id for task in tasks])


MANIFEST = "release-manifest.json"


def source_fingerprint(path: Path) -> str:
    """What a release depends on: each cell's type, source and nbgrader metadata (not outputs or counts)."""
    nb = nbformat.read(path, as_version=4)
    cells = [[c.cell_type, c.source, c.get("metadata", {}).get("nbgrader")] for c in nb.cells]
    return hashlib.sha256(json.dumps(cells, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def write_manifest(root: Path, assignment_ids: Iterable[str] | None = None) -> None:
    path = root / RELEASE_DIRECTORY / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        manifest = {}
    manifest.update({task.id: source_fingerprint(task.source_notebook) for task in _tasks(root, assignment_ids)})
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def stale_sources(root: Path, assignment_ids: Iterable[str] | None = None) -> list[str]:
    """Source notebooks edited since the last `make release` (even inside a solution region)."""
    try:
        manifest = json.loads((root / RELEASE_DIRECTORY / MANIFEST).read_text())
    except (OSError, ValueError):
        return [f"assignments/{MANIFEST} is missing or unreadable: run `make release` and commit assignments/"]
    stale = []
    for task in _tasks(root, assignment_ids):
        if manifest.get(task.id) != source_fingerprint(task.source_notebook):
            stale.append(f"{task.source} changed since the last `make release`: "
                         f"run `make release` and commit assignments/")
    return stale


def clear_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, path)


def _secret_lines(text: str) -> list[str]:
    """Lines worth searching for: long enough that a match is not a coincidence."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if len(stripped) >= 12 and not stripped.startswith("#") and stripped not in ('"""', "pass"):
            lines.append(stripped)
    return lines


def solution_secrets(source: Path) -> set[str]:
    """Lines of solution and hidden-test regions that appear nowhere else in the source notebook."""
    secrets, public = set(), set()
    for cell in nbformat.read(source, as_version=4).cells:
        for region in SOLUTION_REGION.findall(cell.source) + HIDDEN_REGION.findall(cell.source):
            secrets.update(_secret_lines(region))
        outside = HIDDEN_REGION.sub("", SOLUTION_REGION.sub("", cell.source))
        public.update(_secret_lines(outside))
    return secrets - public  # a line the instructor also shows outside a solution (a demo loop) is no secret


def find_leaks(root: Path, assignment_ids: Iterable[str] | None = None) -> list[str]:
    """Every solution body or hidden-test line from solutions/ that appears in assignments/, by file and cell."""
    leaks = []
    for task in _tasks(root, assignment_ids):
        source, release = task.source_notebook, task.release_notebook
        if not release.exists():
            leaks.append(f"{release}: missing (run make release)")
            continue
        secrets = solution_secrets(source)
        released = nbformat.read(release, as_version=4)
        for index, cell in enumerate(released.cells):
            label = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
            text = cell.source
            for marker in MARKERS:
                if marker in text:
                    leaks.append(f"{release}, cell {label}: contains the marker '{marker}'")
            for line in _secret_lines(text):
                if line in secrets:
                    leaks.append(f"{release}, cell {label}: solution line leaked: {line[:80]}")
            if cell.cell_type == "code" and cell.get("outputs"):
                leaks.append(f"{release}, cell {label}: has stored outputs")
    return leaks


def drift(root: Path, generated: Path, assignment_ids: Iterable[str] | None = None) -> list[str]:
    """Notebooks whose committed release differs from a fresh generation (someone forgot `make release`)."""
    stale = []
    for task in _tasks(root, assignment_ids):
        committed = task.release_notebook
        fresh = generated / task.release
        if not committed.exists():
            stale.append(f"{committed}: missing; run `make release` and commit assignments/")
        elif _cells(committed) != _cells(fresh):
            stale.append(f"{committed}: differs from what `make release` generates from {task.source};"
                         " run `make release` and commit assignments/")
    return stale


def _cells(path: Path) -> list[tuple]:
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.get("metadata", {}).get("nbgrader")) for c in nb.cells]


def main() -> int:
    root = project_root()
    try:
        generate(root)
    except ReleaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    leaks = find_leaks(root)
    for leak in leaks:
        print(f"LEAK: {leak}", file=sys.stderr)
    if leaks:
        return 1
    print(f"released {len(course(root).ids)} assignments into assignments/; leak check passed")
    return 0
