"""Shared fixtures for the kit's own tests: build a submission from a solution notebook, grade it for real."""
from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from grader.course import assignment, project_root
from grader.i18n import set_language
from grader.unit import Settings, grade_unit

ROOT = project_root()

# tests/tools/snapshot.py sets this: every graded result of this session is appended to that JSONL file, so the
# (test, points, outcome, message) of every graded submission can be compared before and after a change.
SNAPSHOT = os.environ.get("GRADER_SNAPSHOT")


def current_test() -> str:
    """The project test running now (read before grading: the nested hidden-test session clears it)."""
    return os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]


def record(result: dict, source: str, node: str | None = None) -> dict:
    """Append one graded result to the snapshot file, when one is asked for; returns the result unchanged."""
    if SNAPSHOT:
        node = node or current_test()
        tests = [{k: t.get(k) for k in ("name", "points", "max_points", "outcome", "message")}
                 for t in result.get("tests", [])]
        entry = {"source": source, "node": node, "student_id": result.get("student_id"),
                 "assignment": result.get("assignment"), "score": result.get("score"), "tests": tests}
        with open(SNAPSHOT, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return result


if SNAPSHOT:
    from grader.run import GradeRun

    _run = GradeRun.run

    def _recorded_run(self) -> list[dict]:
        return [record(result, "GradeRun") for result in _run(self)]

    GradeRun.run = _recorded_run


def solution_notebook(assignment_id: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "solutions" / assignment_id / f"{assignment_id}.ipynb", as_version=4)


def released_notebook(assignment_id: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "assignments" / assignment_id / f"{assignment_id}.ipynb", as_version=4)


def write_submission(folder: Path, assignment_id: str, replace: dict[str, str] | None = None,
                     base: nbformat.NotebookNode | None = None, student: str = "student") -> Path:
    """SUBMISSIONS/<student>/<id>/<id>.ipynb from the solution (or ``base``), with some cells' code replaced.

    ``replace`` maps a grade_id to the new source of that cell: a plausible wrong
    implementation, or a valid alternative one.
    """
    nb = copy.deepcopy(base if base is not None else solution_notebook(assignment_id))
    wanted = dict(replace or {})
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in wanted:
            cell.source = wanted.pop(grade_id)
    assert not wanted, f"no cells with grade_id {sorted(wanted)} in {assignment_id}"
    path = folder / student / assignment_id / f"{assignment_id}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def by_name(result: dict) -> dict[str, dict]:
    return {t["name"]: t for t in result["tests"]}


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A test that grades in Korean leaves the process's language as every other test expects it."""
    yield
    set_language("en")


@pytest.fixture
def submit(tmp_path):
    """``submit("vgg", {"conv_params": "def conv_params(...): ..."})`` → the graded result dict."""
    def _submit(assignment_id: str, replace: dict[str, str] | None = None, lang: str = "en", **kwargs) -> dict:
        path = write_submission(tmp_path, assignment_id, replace, **kwargs)
        node = current_test()
        settings = Settings(cell_timeout=20, call_timeout=20, lang=lang)
        return record(grade_unit(path, assignment_id, "student", settings), "grade_unit", node)
    return _submit


@pytest.fixture(scope="session")
def graded_examples(tmp_path_factory) -> tuple[Path, list]:
    """The bundled examples graded once per test session by the local pool (2 workers), as `make grade` does:
    tests/test_examples.py reads its files, tests/test_dask.py compares every backend with it."""
    from grader.run import GradeRun

    out = tmp_path_factory.mktemp("examples-graded")
    return out, GradeRun(project_root() / "examples" / "submissions", out, workers=2).run()


@pytest.fixture(scope="session")
def solution_results() -> dict[str, dict]:
    """Each reference solution, submitted as a notebook and graded once per test session."""
    class Lazy(dict):
        def __missing__(self, assignment_id):
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="solution-"))
            path = write_submission(folder, assignment_id)
            node = current_test()
            self[assignment_id] = record(grade_unit(path, assignment_id, "reference"), "grade_unit", node)
            return self[assignment_id]

    return Lazy()


# Assertions shared by the tests/test_grading_*.py files.

HANGUL = re.compile(r"[\uac00-\ud7a3]")
NUMBER = re.compile(r"\d[\d,.]*\d|\d")


def assert_korean_like_english(english: dict, korean: dict) -> None:
    """The Korean result grades as the English one; every title is Korean, and every failure message is Korean
    and keeps the English message's numbers ("Not credited yet" alone is the grader's own wording)."""
    assert [(t["name"], t["points"]) for t in korean["tests"]] == \
        [(t["name"], t["points"]) for t in english["tests"]]
    for en, ko in zip(english["tests"], korean["tests"]):
        assert HANGUL.search(ko["title"]), (ko["name"], ko["title"])
        if en["outcome"] == "passed":
            continue
        assert set(NUMBER.findall(en["message"])) <= set(NUMBER.findall(ko["message"])), \
            (en["message"], ko["message"])
        if not en["message"].startswith("Not credited yet"):
            assert HANGUL.search(ko["message"]), (ko["name"], ko["message"][:300])


def assert_full_marks(result: dict) -> None:
    """A reference solution's result: graded, every hidden test passed, every cell ran."""
    assert result["status"] == "graded", result["status"]
    assert result["max_score"] >= 20
    assert result["score"] == result["max_score"], [(t["name"], t["message"][:300]) for t in result["tests"]
                                                    if t["outcome"] != "passed"]
    assert all(c["status"] == "ok" for c in result["cells"]), result["cells"]


NOT_IMPLEMENTED = re.compile(r"^Not implemented yet: cell (\w+)\b")


def grade_released_stub(submit, assignment_id: str) -> dict:
    """Submit the release untouched (generated first on a checkout without one) and assert that it earns nothing,
    and that every hidden test says so in one wording, "Not implemented yet: cell <grade_id> ...", naming one of
    the assignment's exercise cells (not "your code raised ...", nor an explanation of a device error)."""
    if not (ROOT / "assignments" / assignment_id / f"{assignment_id}.ipynb").exists():
        from grader.release import generate
        generate(ROOT, [assignment_id])
    result = submit(assignment_id, base=released_notebook(assignment_id))
    assert result["max_score"] >= 20
    assert result["score"] == 0, [(t["name"], t["points"]) for t in result["tests"] if t["points"]]
    cells = assignment(assignment_id).solution_ids()
    for test in result["tests"]:
        named = NOT_IMPLEMENTED.match(test["message"])
        assert named and named.group(1) in cells, (test["name"], test["message"][:300])
    return result


def failed(result: dict, test: str, *keywords: str) -> dict:
    """Assert that ``test`` lost its points and that its message mentions every keyword (case-insensitive)."""
    entry = by_name(result)[test]
    assert entry["outcome"] in ("failed", "error") and entry["points"] == 0, (test, entry)
    for keyword in keywords:
        assert keyword.lower() in entry["message"].lower(), (test, keyword, entry["message"])
    return entry

def passed(result: dict, *tests: str) -> None:
    for test in tests:
        entry = by_name(result)[test]
        assert entry["outcome"] == "passed" and entry["points"] == entry["max_points"], (test, entry)

def carried_forward(result: dict, part: str, *tests: str) -> None:
    """Assert that these composite tests kept their points although ``part`` is wrong, and say why: the composite
    is right given the student's own part, whose mistake is charged in the part's own tests."""
    for test in tests:
        entry = by_name(result)[test]
        assert entry["outcome"] == "passed" and entry["points"] == entry["max_points"], (test, entry)
        assert f"only because of `{part}`, charged in the `{part}` tests (error carried forward)" in \
            entry["message"], (test, entry["message"])


def not_credited(result: dict, *tests: str) -> None:
    """Assert that these structural tests passed their own checks (counts, layouts, children) but were not credited,
    because a behavioural test of the same module -- the reference's weights loaded, outputs compared in the trusted
    process -- failed (``@pytest.mark.confirmed_by``): a structure the sandbox reports is credited only with it."""
    for test in tests:
        entry = by_name(result)[test]
        assert entry["outcome"] == "failed" and entry["points"] == 0, (test, entry)
        assert entry["message"].startswith("Not credited yet"), (test, entry["message"])
