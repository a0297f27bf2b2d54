"""The kit inside a real nbgrader course: a semester's round trip with nbgrader's own commands.

A temporary course (the kit's nbgrader_config.py, a temporary exchange) and four
students: 김서연 submits on time, lee late, park late and granted an extension
later (park is not on the roster), choi never submits, mallory (not on the roster)
submits a notebook that attacks the grader and has no readable timestamp.
Students fetch and submit with `nbgrader ... --student` and a cache folder each;
the TA collects, grades with `python -m grader grade` (what `make grade` runs),
exports, gives feedback through the exchange. Every penalty is checked against
values worked out by hand below.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grader.course import project_root

ROOT = project_root()
BIN = Path(sys.executable).parent
TASK = "alexnet"
COURSE_ID = "cnn-test"
ROSTER = [("김서연", "김", "서연", "seoyeon@example.edu"), ("lee", "Lee", "Min", "lee@example.edu"),
          ("choi", "Choi", "Ara", "choi@example.edu")]
# The due date as a TA types it (Seoul time) = 2026-03-02 14:59:00 UTC.
DUEDATE = "2026-03-02 23:59:00 Asia/Seoul"
# timestamp.txt after collect, in nbgrader's formats with time zones:
STAMPS = {
    "김서연": "2026-03-02 23:30:00.000000 Asia/Seoul",      # 14:30 UTC: on time
    "lee": "2026-03-04 07:59:00.000000 Europe/Berlin",     # 06:59 UTC on 03-04: 40 h late
    "park": "2026-03-03 01:00:00.000000 America/New_York",  # 06:00 UTC on 03-03: 15 h 01 min late
}
ATTACK = '''import builtins, pathlib
import torch.nn as nn
try:
    pathlib.Path({marker!r}).write_text("student code ran outside the sandbox")
except OSError:
    pass
builtins.sum = lambda *args, **kwargs: 10 ** 6
nn.Module.parameters = lambda self, recurse=True: iter([])

def relu(x):
    raise NotImplementedError()
'''
# A custom late-penalty plugin, as a TA would write one: one point per started hour late.
PLUGIN = '''import math
from nbgrader.plugins import LateSubmissionPlugin

class PerHour(LateSubmissionPlugin):
    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return float(math.ceil(total_seconds_late / 3600))
'''


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "400"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def nbgrader(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(BIN / "nbgrader"), *args], cwd, check)


def make_grade(course: Path, *extra: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "grader", "grade", str(course / "submitted"), "--out", str(course / "grades"),
                "--workers", "1", *extra], course)


def export(course: Path) -> bytes:
    target = course / "export.csv"
    nbgrader("export", "--to", str(target), cwd=course)
    return target.read_bytes()


def rows(csv_bytes: bytes) -> dict[str, list[str]]:
    lines = csv_bytes.decode("utf-8").split("\n")
    assert lines[0] == ("assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,"
                        "late_submission_penalty,score,max_score") and lines[-1] == ""
    return {line.split(",")[3]: line.split(",") for line in lines[1:-1]}


def student_notebook(kind: str, marker: Path) -> nbformat.NotebookNode:
    if kind == "solution":
        return nbformat.read(ROOT / "examples" / "submissions" / "alice" / TASK / f"{TASK}.ipynb", as_version=4)
    if kind == "builtin_relu":  # relu calls F.relu: 32 / 34 (examples/expected_scores.json)
        return nbformat.read(ROOT / "examples" / "submissions" / "chris" / TASK / f"{TASK}.ipynb", as_version=4)
    nb = copy.deepcopy(nbformat.read(ROOT / "assignments" / TASK / f"{TASK}.ipynb", as_version=4))
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu":
            cell.source = ATTACK.format(marker=str(marker))
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Release, fetch, submit, collect and a first `make grade`; returns the course folder and the run's numbers."""
    started = time.monotonic()
    base = tmp_path_factory.mktemp("nbgrader-course")
    course, exchange = base / "course", base / "exchange"
    course.mkdir()
    exchange.mkdir()
    exchange.chmod(0o777)
    shutil.copytree(ROOT / "solutions" / TASK, course / "solutions" / TASK)
    config = (ROOT / "nbgrader_config.py").read_text(encoding="utf-8")
    (course / "nbgrader_config.py").write_text(
        config + f"\nc.CourseDirectory.course_id = {COURSE_ID!r}\nc.Exchange.root = {str(exchange)!r}\n"
        'c.LateSubmissionPlugin.penalty_method = "zero"\n', encoding="utf-8")
    assert not (course / ".nbgrader").exists()  # as on a fresh clone
    roster = "id,last_name,first_name,email\n" + "".join(",".join(entry) + "\n" for entry in ROSTER)
    (base / "roster.csv").write_text(roster, encoding="utf-8")
    nbgrader("db", "student", "import", str(base / "roster.csv"), cwd=course)
    nbgrader("db", "assignment", "add", TASK, f"--duedate={DUEDATE}", cwd=course)
    nbgrader("generate_assignment", TASK, "--force", cwd=course)
    nbgrader("release_assignment", TASK, cwd=course)

    marker = base / "marker-attack-ran-here"
    work = {"김서연": "solution", "lee": "builtin_relu", "park": "solution", "mallory": "attack"}
    for student, kind in work.items():
        home = base / "home" / student
        home.mkdir(parents=True)
        flags = [f"--course={COURSE_ID}", f"--Exchange.root={exchange}", f"--Exchange.cache={home / '.cache'}",
                 f"--student={student}"]
        if student == "김서연":  # one fetch proves the release reached the exchange; the others start from a copy
            nbgrader("fetch_assignment", TASK, *flags, cwd=home)
        else:
            (home / TASK).mkdir()
        nbformat.write(student_notebook(kind, marker), home / TASK / f"{TASK}.ipynb")
        nbgrader("submit", TASK, *flags, cwd=home)
    nbgrader("collect", TASK, cwd=course)
    for student, stamp in STAMPS.items():
        (course / "submitted" / student / TASK / "timestamp.txt").write_text(stamp)
    (course / "submitted" / "mallory" / TASK / "timestamp.txt").unlink()
    submitted = {p: p.read_bytes() for p in (course / "submitted").rglob("*") if p.is_file()}
    grade = make_grade(course)
    return {"root": course, "exchange": exchange, "base": base, "marker": marker, "grade": grade,
            "submitted": submitted, "setup_seconds": time.monotonic() - started}


def test_export_is_grades_csv_with_roster_zero_rows_and_the_zero_penalty(course):
    root = course["root"]
    csv = (root / "grades" / "grades.csv").read_bytes()
    assert export(root) == csv  # byte for byte what `nbgrader export` writes
    got = rows(csv)
    # Worked out by hand: due 14:59 UTC; "zero" makes a late notebook's penalty its whole score.
    assert got["김서연"] == [TASK, "2026-03-02 14:59:00", "2026-03-02 14:30:00", "김서연", "김", "서연",
                            "seoyeon@example.edu", "34.0", "0.0", "34.0", "34.0"]
    assert got["lee"][2:] == ["2026-03-04 06:59:00", "lee", "Lee", "Min", "lee@example.edu", "32.0", "32.0", "0.0",
                              "34.0"]
    assert got["park"][2:] == ["2026-03-03 06:00:00", "park", "", "", "", "34.0", "34.0", "0.0", "34.0"]
    assert got["choi"][2:] == ["", "choi", "Choi", "Ara", "choi@example.edu", "0.0", "0.0", "0.0", "34.0"]
    assert got["mallory"][2:] == ["", "mallory", "", "", "", "0.0", "0.0", "0.0", "34.0"]
    report = course["grade"].stdout + course["grade"].stderr
    assert "park: submitted alexnet but is not on the course's roster" in report
    assert "mallory/alexnet: no timestamp.txt: graded and flagged, not penalised" in report
    page = (root / "grades" / "report" / f"{TASK}.html").read_text(encoding="utf-8")  # the class report
    missing = page.split('id="missing"')[1].split('id="late"')[0]
    late = page.split('id="late"')[1].split("</table>")[0]
    assert ">choi</a>" in missing and ">lee</a>" not in missing  # on the roster, never submitted
    assert ">lee</a>" in late and ">김서연</a>" not in late  # 40 h late; on time


def test_gradebook_holds_the_kits_grade_cells_flags_and_autograded_notebooks(course):
    from nbgrader.api import Gradebook

    root = course["root"]
    with Gradebook(f"sqlite:///{root / '.nbgrader' / 'gradebook.db'}", COURSE_ID) as gb:
        cells = {c.name: c.max_score for c in gb.find_notebook(TASK, TASK).grade_cells}
        assert cells == {"check_relu": 7, "check_relu_grad": 3, "check_relu_module": 2, "check_chain_grad": 7,
                         "check_alexnet_params": 15, "check_alexnet_layout": 0, "check_alexnet_forward": 0}
        lee = gb.find_submission_notebook(TASK, TASK, "lee")
        assert {g.name: g.auto_score for g in lee.grades}["check_relu"] == 5  # the built-in relu test: 2 points
        assert not lee.flagged
        assert gb.find_submission_notebook(TASK, TASK, "mallory").flagged  # tampering and no timestamp
    folder = root / "autograded" / "lee" / TASK
    assert (folder / "timestamp.txt").is_file() and (folder / "submission_secret.txt").is_file()
    nb = nbformat.read(folder / f"{TASK}.ipynb", as_version=4)
    relu = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "check_relu")
    assert relu.outputs[0]["text"].startswith("Hidden tests for relu: 5 / 7 points")
    # the submitted notebooks were only read
    assert {p: p.read_bytes() for p in (root / "submitted").rglob("*") if p.is_file()} == course["submitted"]


def test_nbgrader_autograde_refuses_and_the_attack_never_ran_outside_the_sandbox(course):
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    from grader.nbgrader_course.course import load_config

    root = course["root"]
    db = f"sqlite:///{root / '.nbgrader' / 'gradebook.db'}"
    autograded = (root / "autograded" / "mallory" / TASK / f"{TASK}.ipynb").read_bytes()
    with Gradebook(db, COURSE_ID) as gb:
        assert gb.find_submission(TASK, "mallory").score == 0
    refused = nbgrader("autograde", TASK, cwd=root, check=False)
    assert refused.returncode != 0 and "make grade SUBMISSIONS=submitted" in refused.stdout + refused.stderr
    cwd = os.getcwd()
    os.chdir(root)
    try:  # formgrader's autograde button
        api = NbGraderAPI(config=load_config(root))
        outcome = api.autograde(TASK, "mallory", force=True, create=True)
    finally:
        os.chdir(cwd)
    assert not outcome["success"] and "make grade" in (outcome.get("error", "") + outcome.get("log", ""))
    with Gradebook(db, COURSE_ID) as gb:
        assert gb.find_submission(TASK, "mallory").score == 0
        assert gb.find_submission(TASK, "김서연").score == 34
    assert (root / "autograded" / "mallory" / TASK / f"{TASK}.ipynb").read_bytes() == autograded
    assert not course["marker"].exists(), "the attack's code ran outside the sandbox"
    result = json.loads((root / "grades" / "results" / "mallory" / f"{TASK}.json").read_text("utf-8"))
    assert result["score"] == 0 and result["needs_review"]


def test_feedback_reaches_the_student_through_the_exchange_without_test_code(course):
    root, exchange, base = course["root"], course["exchange"], course["base"]
    nbgrader("generate_feedback", TASK, cwd=root)
    nbgrader("release_feedback", TASK, cwd=root)
    home = base / "home" / "lee"
    nbgrader("fetch_feedback", TASK, f"--course={COURSE_ID}", f"--Exchange.root={exchange}",
             f"--Exchange.cache={home / '.cache'}", "--student=lee", cwd=home)
    pages = list((home / TASK / "feedback").rglob(f"{TASK}.html"))
    assert len(pages) == 1
    page = pages[0].read_text("utf-8")
    assert "Hidden tests for relu: 5 / 7 points" in page
    assert "F.relu" in page and "built-in" in page  # the hidden test's message for this mistake
    secrets = {line.strip() for line in (ROOT / "autograde_tests" / f"test_{TASK}.py").read_text().splitlines()
               if len(line.strip()) > 30 and not line.strip().startswith(("#", '"""')) and "hint=" not in line}
    assert not [line for line in secrets if line in page]


def test_extension_manual_score_and_a_custom_penalty_plugin(course):
    """Runs last: it changes the course (an extension, a manual score, the late plugin)."""
    from nbgrader.api import Gradebook

    root = course["root"]
    db = f"sqlite:///{root / '.nbgrader' / 'gradebook.db'}"
    with Gradebook(db, COURSE_ID) as gb:
        gb.grant_extension(TASK, "park", days=1)  # no CLI for it; the submission row exists now
        grade = gb.find_grade("check_relu", TASK, TASK, "김서연")
        grade.manual_score = 3.0
        gb.find_comment("relu", TASK, TASK, "김서연").manual_comment = "see me about relu"
        gb.db.commit()
    make_grade(root, "--force")  # every notebook graded again, none changed
    got = rows((root / "grades" / "grades.csv").read_bytes())
    assert got["park"][7:10] == ["34.0", "0.0", "34.0"]  # the extension alone removed the penalty
    assert got["김서연"][7:10] == ["30.0", "0.0", "30.0"]  # 34 − 7 (relu's auto score) + 3 (the TA's)
    with Gradebook(db, COURSE_ID) as gb:
        assert gb.find_grade("check_relu", TASK, TASK, "김서연").manual_score == 3.0
        assert gb.find_comment("relu", TASK, TASK, "김서연").manual_comment == "see me about relu"

    # A custom plugin and a shorter extension, without any notebook changing.
    (root / "per_hour.py").write_text(PLUGIN)
    with open(root / "nbgrader_config.py", "a", encoding="utf-8") as handle:
        handle.write("\nimport sys; sys.path.insert(0, c.CourseDirectory.root)\n"
                     'c.AssignLatePenalties.plugin_class = "per_hour.PerHour"\n')
    with Gradebook(db, COURSE_ID) as gb:
        gb.grant_extension(TASK, "park", hours=12)
    grade = make_grade(root)
    assert "0 to grade" in grade.stdout + grade.stderr
    csv = (root / "grades" / "grades.csv").read_bytes()
    assert export(root) == csv
    got = rows(csv)
    # park: 06:00 − (14:59 + 12 h) = 3 h 01 min late → 4 started hours → 4 points
    assert got["park"][7:10] == ["34.0", "4.0", "30.0"]
    # lee: 40 h late → 40 points, clamped to the notebook's score 32
    assert got["lee"][7:10] == ["32.0", "32.0", "0.0"]
    # 김서연 on time, mallory without a timestamp: never penalised
    assert got["김서연"][8] == "0.0" and got["mallory"][8] == "0.0"
