"""The Gradescope autograder: build the zip, unpack it under a folder standing in for /autograder, run it.

``CNN_AUTOGRADER_ROOT`` relocates /autograder; ``root/venv`` links to this
checkout's virtual environment (what setup.sh would have installed).
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest

from grader.course import assignment, project_root
from grader.gradescope.build import CourseOptions, build_zip
from grader.gradescope.results import not_graded
from grader.unit import collect_tests, grade_unit

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = project_root()
SCHEMA = json.loads((ROOT / "tests" / "data" / "gradescope-results.schema.json").read_text())
EXAMPLE = ROOT / "examples" / "submissions" / "chris" / "vgg" / "vgg.ipynb"  # 30/32: one test fails


def validate(document: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_zip("vgg", tmp_path_factory.mktemp("dist"), CourseOptions(visibility="after_published"))


@pytest.fixture(scope="module")
def autograder(built, tmp_path_factory) -> Path:
    """An /autograder stand-in: source/ unpacked from the zip, run_autograder copied beside it, venv linked."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(built) as archive:
        archive.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        (root / "source" / name).chmod(0o755)
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    (root / "run_autograder").chmod(0o755)
    (root / "venv").symlink_to(Path(sys.prefix))
    return root


def run_autograder(root: Path, files: dict[str, bytes], config: dict | None = None) -> tuple[dict, str]:
    """Put ``files`` in submission/, run ``run_autograder`` as Gradescope would, return results.json and the log."""
    submission = root / "submission"
    if submission.exists():
        for path in sorted(submission.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
    submission.mkdir(exist_ok=True)
    for name, data in files.items():
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_bytes(data)
    results = root / "results" / "results.json"
    results.unlink(missing_ok=True)
    config_path = root / "source" / "gradescope.json"
    original = config_path.read_text()
    if config:
        config_path.write_text(json.dumps({**json.loads(original), **config}))
    try:
        proc = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "CNN_AUTOGRADER_ROOT": str(root)})
    finally:
        config_path.write_text(original)
    assert results.is_file(), f"no results.json; log:\n{proc.stdout}\n{proc.stderr}"
    document = json.loads(results.read_text())
    validate(document)
    return document, proc.stdout + proc.stderr


def test_zip_layout_follows_gradescopes_specification(built):
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        config = json.loads(archive.read("gradescope.json"))
        requirements = archive.read("requirements.txt").decode().splitlines()
        setup = archive.read("setup.sh").decode()
    for entry in ("setup.sh", "run_autograder"):  # at the root, not in a folder, executable
        assert entry in names and modes[entry] & stat.S_IXUSR
    assert {"autograde_tests/test_vgg.py", "solutions/vgg/vgg.ipynb", "grader/unit.py", "pyproject.toml",
            "README.md"} <= names
    assert not any(n.startswith(("autograde_tests/test_alexnet", "solutions/alexnet", "examples/", "tests/"))
                   or "__pycache__" in n for n in names)
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert requirements == pins and all("==" in p for p in pins)
    assert "https://download.pytorch.org/whl/cpu" in setup and "TORCH_INDEX_URL" in setup
    assert subprocess.run(["bash", "-n", "-c", setup]).returncode == 0
    tests = collect_tests(assignment("vgg"))
    assert config["assignment"] == "vgg" and config["visibility"] == "after_published" and config["gpu"] is False
    assert [t["max_points"] for t in config["tests"]] == [t["max_points"] for t in tests]
    assert config["max_score"] == sum(t["max_points"] for t in tests)
    assert build_zip("vgg", built.parent / "again", CourseOptions(visibility="after_published")).read_bytes() \
        == built.read_bytes()  # the same kit gives the same zip


def test_schema_accepts_gradescopes_example_and_rejects_wrong_documents():
    good = {"score": 44.0, "execution_time": 136, "output": "Text", "visibility": "after_due_date",
            "stdout_visibility": "visible", "extra_data": {},
            "tests": [{"score": 2.0, "max_score": 2.0, "status": "passed", "name": "Your name here",
                       "number": "1.1", "output": "Giant multiline string", "tags": ["tag1"],
                       "visibility": "visible", "extra_data": {}}],
            "leaderboard": [{"name": "Accuracy", "value": .926}, {"name": "Time", "value": 15.1, "order": "asc"}]}
    validate(good)
    wrong = [{k: v for k, v in good.items() if k != "score"},
             {**good, "score": "44"},
             {**good, "tests": [{k: v for k, v in good["tests"][0].items() if k != "max_score"}]},
             {**good, "tests": [{**good["tests"][0], "status": "ok"}]},
             {**good, "visibility": "students"},
             {**good, "tests": [{**good["tests"][0], "max_points": 2}]}]
    for document in wrong:
        with pytest.raises(jsonschema.ValidationError):
            validate(document)
    validate(not_graded("vgg", "no notebook", [t.to_dict() for t in collect_tests(assignment("vgg"))]))


def test_run_autograder_scores_like_grade_unit(autograder):
    document, log = run_autograder(autograder, {"My Homework (1).ipynb": EXAMPLE.read_bytes()})
    expected = grade_unit(EXAMPLE, "vgg", "chris")
    assert document["score"] == expected["score"] == 30
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in document["tests"]] == \
        [(t["title"], t["points"], t["max_points"], "passed" if t["outcome"] == "passed" else "failed")
         for t in expected["tests"]]
    failed = [t for t in document["tests"] if t["status"] == "failed"]
    assert len(failed) == 1 and "bias" in failed[0]["output"]  # the student's message, not a traceback
    assert all(t["visibility"] == "after_published" for t in document["tests"])
    assert f"Sandbox: {expected['sandbox']}." in document["output"]
    assert "graded My Homework (1).ipynb as the vgg notebook" in document["output"]
    assert document["execution_time"] > 0
    assert stat.S_IMODE((autograder / "results").stat().st_mode) == 0o755
    assert "outlived" not in log


def test_broken_notebook_scores_zero_with_the_reason(autograder):
    document, _ = run_autograder(autograder, {"vgg.ipynb": b'{"cells": [{"cell_type": "code", "sour'})
    assert document["score"] == 0
    assert "not graded" in document["output"].lower() and "json" in document["output"].lower()
    assert len(document["tests"]) == len(collect_tests(assignment("vgg")))
    assert all(t["score"] == 0 and t["status"] == "failed" and "not graded" in t["output"] for t in document["tests"])


@pytest.mark.parametrize("files, says", [
    ({"notes.pdf": b"%PDF-1.4"}, "no Jupyter notebook"),
    ({"vgg.ipynb": b"{}", "old/vgg_v2.ipynb": b"{}"}, "several notebooks"),
])
def test_no_single_notebook_gets_a_clear_message(autograder, files, says):
    document, _ = run_autograder(autograder, files)
    assert document["score"] == 0 and says in document["output"]
    assert all(says in t["output"] for t in document["tests"])


def test_a_run_past_its_deadline_still_writes_results(autograder):
    """The supervisor's deadline falls while the student's endless cell runs: everything is stopped, then written."""
    nb = nbformat.reads(EXAMPLE.read_text(encoding="utf-8"), as_version=4)
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "conv_params")
    cell.source = "while True:\n    pass"
    document, log = run_autograder(autograder, {"vgg.ipynb": nbformat.writes(nb).encode()},
                                   config={"timeout": 20, "settings": {"cell_timeout": 600}})
    assert document["score"] == 0 and "did not finish within 20 s" in document["output"]
    assert "Sandbox: stopped with the grading run, every process of it ended." in document["output"]
    assert "outlived" not in log  # stop_all found every process of the run gone before results.json was written


def test_without_setup_run_autograder_still_writes_results(tmp_path):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    script = root / "run_autograder"
    script.write_bytes((ROOT / "grader" / "gradescope" / "files" / "run_autograder").read_bytes())
    script.chmod(0o755)
    subprocess.run([str(script)], cwd=root, env={**os.environ, "CNN_AUTOGRADER_ROOT": str(root)},
                   capture_output=True, timeout=60)
    document = json.loads((root / "results" / "results.json").read_text())
    validate(document)
    assert document["score"] == 0 and "setup.sh did not finish" in document["output"]
