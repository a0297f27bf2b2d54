"""Canvas and Moodle: bulk downloads shaped as the platforms write them → collect → grade → export.

The zips are built here from entry names in each platform's pattern (sources in
grader/lms/canvas.py and grader/lms/moodle.py); the roster, the worksheet and
the expected exports are in tests/data/lms/. One grading run serves both platforms.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from grader.cli import main
from grader.course import project_root
from grader.lms.canvas import parse_name
from grader.run import GradeRun
from grader.unit import Settings

ROOT = project_root()
DATA = ROOT / "tests" / "data" / "lms"
GOOD = (ROOT / "examples" / "submissions" / "chris" / "vgg" / "vgg.ipynb").read_bytes()  # 30/32
BROKEN = b'{"cells": [{"cell_type": "code", "source": "def conv_params('  # truncated upload: 0 with a reason
OTHER = GOOD.replace(b"conv_params", b"conv_params ", 1)

CANVAS_ENTRIES = {
    "김서연_340934_9001_vgg.ipynb": GOOD,
    "parkjiho_LATE_340935_9002_vgg-1.ipynb": BROKEN,  # late, and re-uploaded under the same name
    "leeminjun_340936_9003_vgg.ipynb": GOOD,  # two notebooks in one submission
    "leeminjun_340936_9003_vgg-2.ipynb": OTHER,
    "smithbob_340937_9004_report.pdf": b"%PDF-1.4 stray",
    "ghostuser_777777_9005_vgg.ipynb": BROKEN,  # not in the roster
    "../evil.ipynb": GOOD,
    "readme.txt": b"not from Canvas",
}
MOODLE_ENTRIES = {
    "김서연_1510123_assignsubmission_file_/vgg.ipynb": GOOD,
    "Jiho Park_1510124_assignsubmission_file_/VGG homework.ipynb": BROKEN,
    "Jiho Park_1510124_assignsubmission_onlinetext_/onlinetext.html": b"<p>see file</p>",
    "Minjun Lee_1510125_assignsubmission_file_/report.pdf": b"%PDF-1.4 stray",
    "Nobody Here_1519999_assignsubmission_file_/vgg.ipynb": BROKEN,  # no row in the worksheet
    "Jiho Park_1510124_assignsubmission_file_/../../../escape.ipynb": GOOD,
}


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 12, 1, 9, 0, 0)), data)
    return path


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Both downloads collected into one SUBMISSIONS, graded once by the kit's coordinator, both exports written."""
    tmp = tmp_path_factory.mktemp("lms")
    subs, grades = tmp / "course" / "SUBMISSIONS", tmp / "grades"
    logs = {}
    import contextlib
    import io

    def cli(*argv) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main([str(a) for a in argv]) == 0
        return out.getvalue()

    logs["canvas"] = cli("collect", "canvas", make_zip(tmp / "canvas.zip", CANVAS_ENTRIES), "--assignment", "vgg",
                         "--into", subs, "--roster", DATA / "canvas-gradebook.csv")
    logs["moodle"] = cli("collect", "moodle", make_zip(tmp / "moodle.zip", MOODLE_ENTRIES), "--assignment", "vgg",
                         "--into", subs, "--worksheet", DATA / "moodle-worksheet.csv")
    GradeRun(subs, grades, workers=1, settings=Settings(cell_timeout=20, call_timeout=20)).run()
    logs["export canvas"] = cli("export", "canvas", "--roster", DATA / "canvas-gradebook.csv", "--grades", grades,
                                "--out", tmp / "canvas-import.csv")
    logs["export moodle"] = cli("export", "moodle", "--worksheet", DATA / "moodle-worksheet.csv", "--grades", grades,
                                "--assignment", "vgg", "--out", tmp / "moodle-import.csv")
    return tmp, subs, logs


def test_canvas_file_names():
    late = parse_name("giampietroelijahs_LATE_178647_16203579_ENG 301 Problem_Statement-1.docx")
    assert (late.slug, late.late, late.user_id, late.file_id, late.original_name) == \
        ("giampietroelijahs", True, "178647", "16203579", "ENG 301 Problem_Statement-1.docx")
    korean = parse_name("김서연_340934_9001_my_vgg_final.ipynb")
    assert (korean.slug, korean.late, korean.user_id, korean.original_name) == \
        ("김서연", False, "340934", "my_vgg_final.ipynb")
    anonymous = parse_name("LATE_anon_x7k2q_5551_vgg.ipynb")  # anonymous grading: no name, anon_<id>
    assert (anonymous.slug, anonymous.late, anonymous.user_id, anonymous.original_name) == \
        ("", True, "anon_x7k2q", "vgg.ipynb")
    assert parse_name("syllabus.pdf") is None and parse_name("smith_bob_vgg.ipynb") is None


def test_collect_writes_nbgrader_layout_and_reports_the_rest(course):
    tmp, subs, logs = course
    assert (subs / "340934" / "vgg" / "vgg.ipynb").read_bytes() == GOOD
    assert (subs / "340935" / "vgg" / "vgg.ipynb").read_bytes() == BROKEN  # vgg-1.ipynb: one notebook, collected
    assert (subs / "1510123" / "vgg" / "vgg.ipynb").read_bytes() == GOOD
    assert (subs / "1510124" / "vgg" / "vgg.ipynb").read_bytes() == BROKEN  # "VGG homework.ipynb"
    # several notebooks: both kept under their own names, neither chosen
    assert sorted(p.name for p in (subs / "340936" / "vgg").iterdir()) == [
        "leeminjun_340936_9003_vgg-2.ipynb", "leeminjun_340936_9003_vgg.ipynb"]
    canvas, moodle = logs["canvas"], logs["moodle"]
    assert "several notebooks from one student" in canvas and "leeminjun_340936_9003_vgg-2.ipynb" in canvas
    assert "not notebooks" in canvas and "smithbob_340937_9004_report.pdf" in canvas
    assert "not in the roster" in canvas and "ghostuser (Canvas user 777777)" in canvas
    assert "'../evil.ipynb': skipped, a '..' path component" in canvas
    assert "readme.txt: not <lastfirst>[_LATE]_<user id>_<file id>_<name>" in canvas
    assert "marked late by the LMS" in canvas and "340935 (parkjiho)" in canvas.split("marked late")[1]
    assert "onlinetext.html" in moodle and "report.pdf" in moodle
    assert "no 'Participant 1519999' row" in moodle and "escape.ipynb': skipped" in moodle
    assert not list(tmp.rglob("evil.ipynb")) and not list(tmp.rglob("escape.ipynb"))
    assert not (tmp / "course" / "evil.ipynb").exists() and not (tmp.parent / "escape.ipynb").exists()


def test_canvas_export_matches_the_expected_import_file(course):
    tmp, _, logs = course
    assert (tmp / "canvas-import.csv").read_text(encoding="utf-8") == \
        (DATA / "canvas-expected.csv").read_text(encoding="utf-8")
    log = logs["export canvas"]
    assert "roster students without a result" in log and "Smith, Bob (ID 340937): vgg" in log
    assert "Student, Test (ID 340999): vgg" in log
    assert "results for students not in the roster (NOT exported)" in log and "777777 vgg: 0/32" in log
    assert "1510123 vgg: 30/32" in log  # the Moodle students are not Canvas students: listed, never guessed


def test_moodle_export_fills_the_worksheet(course):
    tmp, _, logs = course
    assert (tmp / "moodle-import.csv").read_text(encoding="utf-8") == \
        (DATA / "moodle-expected.csv").read_text(encoding="utf-8")
    log = logs["export moodle"]
    assert "rescaled 30/32 to the platform's maximum of 100" in log
    assert "1519999: 0/32" in log and "Participant 1510126" in log


def test_roster_column_becomes_the_student_id_and_export_matches_by_it(tmp_path, capsys):
    download = make_zip(tmp_path / "c.zip", {"김서연_340934_9001_vgg.ipynb": GOOD,
                                             "parkjiho_340935_9002_vgg.ipynb": BROKEN})
    roster = tmp_path / "roster.csv"
    roster.write_text((DATA / "canvas-gradebook.csv").read_text(encoding="utf-8").replace("jiho.park", "cnn/jiho"),
                      encoding="utf-8")
    assert main(["collect", "canvas", str(download), "--assignment", "vgg", "--into", str(tmp_path / "S"),
                 "--roster", str(roster), "--id-column", "SIS Login ID"]) == 0
    assert (tmp_path / "S" / "seoyeon.kim" / "vgg" / "vgg.ipynb").is_file()
    assert (tmp_path / "S" / "340935" / "vgg" / "vgg.ipynb").is_file()  # an unsafe roster id is not a path
    assert "contains a slash" in capsys.readouterr().out
    results = tmp_path / "grades" / "results" / "seoyeon.kim"
    results.mkdir(parents=True)
    (results / "vgg.json").write_text('{"student_id": "seoyeon.kim", "assignment": "vgg", "score": 31.5, '
                                      '"max_score": 32}', encoding="utf-8")
    assert main(["export", "canvas", "--roster", str(roster), "--grades", str(tmp_path / "grades"),
                 "--id-column", "SIS Login ID", "--column", "vgg=VGG lab (999)", "--out", str(tmp_path / "o.csv")]) == 0
    lines = (tmp_path / "o.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(",VGG lab (999)") and lines[1].endswith(",32")  # a new column: its points possible
    assert lines[2] == '"김, 서연",340934,2024123456,seoyeon.kim,CNN 101 (01),31.5'


def test_moodle_blind_marking_and_flat_download(tmp_path, capsys):
    download = make_zip(tmp_path / "m.zip", {"Participant_1510123_assignsubmission_file_/vgg.ipynb": GOOD,
                                             "Participant_1510124_assignsubmission_file_vgg.ipynb": BROKEN})
    assert main(["collect", "moodle", str(download), "--assignment", "vgg", "--into", str(tmp_path / "S"),
                 "--worksheet", str(DATA / "moodle-worksheet.csv")]) == 0
    assert (tmp_path / "S" / "1510123" / "vgg" / "vgg.ipynb").read_bytes() == GOOD
    assert (tmp_path / "S" / "1510124" / "vgg" / "vgg.ipynb").read_bytes() == BROKEN
    assert "1510123 (Participant)" in capsys.readouterr().out


def test_collecting_again_keeps_what_is_there(tmp_path, capsys):
    into = tmp_path / "S"
    first = make_zip(tmp_path / "1.zip", {"김서연_340934_9001_vgg.ipynb": GOOD})
    second = make_zip(tmp_path / "2.zip", {"김서연_340934_9001_vgg.ipynb": OTHER})
    for download in (first, first, second):
        assert main(["collect", "canvas", str(download), "--assignment", "vgg", "--into", str(into)]) == 0
    out = capsys.readouterr().out
    assert "already there, unchanged" in out and "exists with other content; kept it" in out
    assert (into / "340934" / "vgg" / "vgg.ipynb").read_bytes() == GOOD


def test_moodle_worksheet_in_another_language(tmp_path, capsys):
    """Moodle translates the worksheet's headers; they can be named, and a wrong one gets a clear error."""
    sheet = tmp_path / "성적표.csv"
    sheet.write_text("식별자,성명,성적,최대 성적,최종 수정 (성적)\n참여자 1510123,김서연,,32.00,-\n", encoding="utf-8")
    results = tmp_path / "grades" / "results" / "1510123"
    results.mkdir(parents=True)
    (results / "vgg.json").write_text('{"student_id": "1510123", "assignment": "vgg", "score": 30, "max_score": 32}',
                                      encoding="utf-8")
    base = ["export", "moodle", "--worksheet", str(sheet), "--grades", str(tmp_path / "grades"), "--assignment", "vgg",
            "--out", str(tmp_path / "out.csv")]
    assert main(base) == 2
    assert "needs the columns 'Identifier' and 'Grade' (found: 식별자, 성명, 성적" in capsys.readouterr().err
    assert main(base + ["--identifier-column", "식별자", "--grade-column", "성적", "--maximum-column", "최대 성적"]) == 0
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[1] == "참여자 1510123,김서연,30,32.00,-"
