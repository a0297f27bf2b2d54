"""A throwaway nbgrader course for the benchmark: sources, nbgrader's release, N submissions per assignment.

Nothing is written into the repository: the course lives in a temporary folder
with a copy of ``course.toml``, of the assignments' source notebooks and of
``nbgrader_config.py`` (its root, database and submitted folder pointed into the
temporary folder).
"""
from __future__ import annotations

import copy
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from bench.mistakes import Mistake, mistakes_for_cell

TIMESTAMP = "2025-01-01 12:00:00.000000 UTC"


@dataclass
class Submission:
    student_id: str
    assignment: str
    kind: str  # "full", "stub" or "mistake"
    detail: str
    path: str

    def as_dict(self) -> dict:
        return asdict(self)


def kinds(n: int) -> list[str]:
    """The class mix: of every five students one submits the solution, one the untouched release, three a mistake."""
    return ["full" if i % 5 == 0 else "stub" if i % 5 == 2 else "mistake" for i in range(n)]


def write_config(repo: Path, root: Path) -> Path:
    """The kit's nbgrader_config.py, with the course moved to ROOT and submissions in ROOT/submitted."""
    text = (repo / "nbgrader_config.py").read_text(encoding="utf-8")
    text += ("\n# --- added by the benchmark (python -m bench): a throwaway course in a temporary folder ---\n"
             f"c.CourseDirectory.root = {str(root)!r}\n"
             'c.CourseDirectory.submitted_directory = "submitted"\n'
             f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / '.nbgrader' / 'gradebook.db')!r}\n"
             "# the kit's course refuses nbgrader autograde; the benchmark measures it, so it gets nbgrader's own back\n"
             'c.Autograde.exporter_class = "nbconvert.exporters.NotebookExporter"\n')
    path = root / "nbgrader_config.py"
    path.write_text(text, encoding="utf-8")
    return path


def make_course(repo: Path, root: Path, assignment_ids: list[str]) -> None:
    """Copy the sources and run nbgrader's generate_assignment (the kit's own `make release` code)."""
    from grader.course import COURSE_FILE, course
    from grader.release import generate

    root.mkdir(parents=True, exist_ok=True)
    (root / ".nbgrader").mkdir(exist_ok=True)
    shutil.copy(repo / COURSE_FILE, root / COURSE_FILE)
    for task in assignment_ids:
        source = course(repo)[task].source_notebook.parent
        shutil.copytree(source, root / source.relative_to(repo))
    write_config(repo, root)
    generate(root, assignment_ids)


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def all_mistakes(solution: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[Mistake]:
    released = {_grade_id(c): c.source for c in release.cells if _grade_id(c)}
    found = []
    for cell in solution.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and meta.get("grade_id"):
            found.extend(mistakes_for_cell(meta["grade_id"], cell.source, released.get(meta["grade_id"])))
    return found


def make_submissions(root: Path, assignment_ids: list[str], n: int, seed: int = 0) -> list[Submission]:
    """ROOT/submitted/<student>/<id>/<id>.ipynb for n students per assignment, in nbgrader's layout."""
    from grader.course import course

    out: list[Submission] = []
    for task in assignment_ids:
        files = course(root)[task]
        solution = nbformat.read(files.source_notebook, as_version=4)
        release = nbformat.read(files.release_notebook, as_version=4)
        mistakes = all_mistakes(solution, release)
        random.Random(f"{seed}:{task}").shuffle(mistakes)
        used = 0
        for index, kind in enumerate(kinds(n)):
            student = f"student{index + 1:02d}"
            if kind == "full":
                nb, detail = copy.deepcopy(solution), "the solution notebook as is"
            elif kind == "stub" or not mistakes:
                nb, detail, kind = copy.deepcopy(release), "the release notebook, nothing filled in", "stub"
            else:
                mistake = mistakes[used % len(mistakes)]
                used += 1
                nb = copy.deepcopy(solution)
                for cell in nb.cells:
                    if _grade_id(cell) == mistake.grade_id:
                        cell.source = mistake.source
                detail = f"{mistake.label} ({mistake.detail})"
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            folder = root / "submitted" / student / task
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / files.notebook_name
            nbformat.write(nb, path)
            (folder / "timestamp.txt").write_text(TIMESTAMP, encoding="utf-8")
            out.append(Submission(student, task, kind, detail, str(path.relative_to(root))))
    return out
