"""Korean feedback, the grader's own words (the ``grader`` domain): the toolkit's and the plugin's messages, the
feedback page, ``make check``, Gradescope's ``results.json`` and nbgrader's autograded notebook, with ``--lang ko``.

English stays as it was (tests/tools/snapshot.py proves it for every hidden test); here a few English sentences
are pinned beside their Korean, and one real grading run in Korean feeds every writer.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, released_notebook, write_submission
from grader.checks import CheckFailed, assert_equal, count_failure, fail
from grader.checks.composite import carried_forward
from grader.course import Assignment, assignment
from grader.i18n import set_language, translate
from grader.nbgrader_course import autograded
from grader.nbgrader_course.exercises import grade_cell_of
from grader.outputs import render_feedback
from grader.pytest_plugin import student_message
from grader.results import UnitResult, status_text
from grader.sandbox.client import StudentRaised, StudentTimeout
from grader.unit import Settings, collect_tests, grade_unit

HANGUL = re.compile(r"[\uac00-\ud7a3]")
ID = "vgg"
CONV_BIAS_BY_DEFAULT = '''
def conv_params(kernel_size, in_channels, out_channels, bias=True):   # nn.Conv2d's default
    return kernel_size * kernel_size * in_channels * out_channels + (out_channels if bias else 0)
'''


def failure(check, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as caught:
        check(*args, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize("lang, expected", [
    ("en", ["conv_params(3, 1, 1): expected 9, got 10.\nLikely cause: count the biases only when bias=True",
            "vgg16(): parameter count 138,357,672 ≠ 138,357,544 (difference +128).",
            "Not implemented yet: cell relu, line 4, in relu still raises NotImplementedError().",
            "Your code did not finish in time (stopped after 2 s): is there a loop that never ends?",
            "your VGG16 is wired right; its output differs from the reference only because of `vgg_block`, "
            "charged in the `vgg_block` tests (error carried forward).",
            "Your code raised NameError: name 'vgg_block' is not defined in your notebook"]),
    ("ko", ["conv_params(3, 1, 1): 기대값 9, 실제값 10.\n예상 원인: count the biases only when bias=True",
            "vgg16(): 파라미터 (parameter) 수 138,357,672 ≠ 138,357,544 (차이 +128).",
            "아직 구현되지 않았습니다: cell relu, line 4, in relu에서 여전히 NotImplementedError()가 발생합니다.",
            "코드가 제한 시간 안에 끝나지 않았습니다 (2초 후 중단됨): 끝나지 않는 반복문이 있나요?",
            "VGG16의 연결은 올바릅니다. 출력이(가) 기준 답안 (reference solution)과 다른 것은 `vgg_block` 때문이며, "
            "이 감점은 `vgg_block` 테스트에서만 적용됩니다 (오류 이월, error carried forward).",
            "코드에서 NameError 오류가 발생했습니다: 노트북에 'vgg_block'이(가) 정의되어 있지 않습니다"]),
])
def test_toolkit_and_plugin_words_follow_the_language(lang, expected):
    """The toolkit translates its own words; what a hidden test passes in (``what``, the hint) arrives as it is."""
    set_language(lang)
    stub = StudentRaised("NotImplementedError", ["NotImplementedError"], "",
                         'Traceback:\n  cell relu, line 4, in relu\n    raise NotImplementedError()')
    got = [failure(assert_equal, "conv_params(3, 1, 1)", 10, 9, hint="count the biases only when bias=True"),
           failure(count_failure, "vgg16()", 138_357_672, 138_357_544),
           student_message(stub), student_message(StudentTimeout(2.0)),
           carried_forward("VGG16", ["vgg_block"]),
           student_message(StudentRaised("NameError", ["NameError"],   # the sandbox's own words, translated here
                                         "name 'vgg_block' is not defined in your notebook"))]
    assert got == expected


def test_a_check_without_a_hint_has_no_likely_cause():
    set_language("ko")
    assert failure(fail, "x") == "x" and "예상 원인" not in failure(fail, "x", "")


@pytest.fixture(scope="module")
def korean_result(tmp_path_factory) -> dict:
    """One real grading run in Korean: the release with a wrong ``conv_params`` (its test has a likely cause) and
    every other exercise left as released (not implemented)."""
    path = write_submission(tmp_path_factory.mktemp("ko"), ID, {"conv_params": CONV_BIAS_BY_DEFAULT},
                            base=released_notebook(ID))
    try:
        return grade_unit(path, ID, "student", Settings(cell_timeout=20, call_timeout=20, lang="ko")).to_dict()
    finally:
        set_language("en")


def test_grading_in_korean_words_the_toolkit_and_plugin_messages(korean_result):
    tests = {t["name"]: t for t in korean_result["tests"]}
    conv = tests["test_conv_params"]
    assert conv["points"] == 0 and "\n예상 원인: " in conv["message"] and "Likely cause" not in conv["message"]
    stubs = [t for t in korean_result["tests"] if t["name"] != "test_conv_params"]
    assert stubs and all(t["points"] == 0 and t["message"].startswith("아직 구현되지 않았습니다") for t in stubs)
    assert not any("Not implemented yet" in t["message"] for t in korean_result["tests"])
    english = {t.name: t.title for t in collect_tests(assignment(ID))}
    set_language("ko")   # a title is its docstring's first line, translated by the assignment's own catalog
    assert {name: t["title"] for name, t in tests.items()} == {
        name: translate(ID, title, {}) for name, title in english.items()}


def test_feedback_page_in_korean(korean_result):
    result = UnitResult.from_dict({**korean_result, "status": "not graded: 비어 있음", "needs_review": True,
                                   "student_id": "s<1>"})
    set_language("ko")
    page = render_feedback(result)
    assert '<html lang="ko">' in page and "s<1>" not in page   # values are escaped in the translated sentences
    for words in ("<title>vgg — s&lt;1&gt; 님의 피드백</title>", "<h1>vgg: s&lt;1&gt; 님의 피드백</h1>", "점수: 0 / ", "상태:", "채점되지 않음: 비어 있음", "<th>검사</th>",
                  "<th class=\"pts\">점수</th>", ">실패<pre>", "예상 원인: ", "조교가 살펴보도록"):
        assert words in page, words
    assert not any(english in page for english in ("Score:", "feedback for", "Likely cause", ">failed<"))
    set_language("en")
    english = render_feedback(result)
    assert '<html lang="en">' in english and "Score: 0 / " in english and "Status:</strong> not graded: 비어 있음" \
        in english


def test_status_stays_english_for_programs_and_reads_korean_for_students():
    set_language("ko")
    assert status_text("not graded: x.ipynb is not valid") == "채점되지 않음: x.ipynb is not valid"
    assert status_text("graded (the sandbox stopped: 이유)") == "채점됨 (샌드박스 (sandbox)가 멈췄습니다: 이유)"
    set_language("en")
    assert status_text("graded (the sandbox stopped: why)") == "graded (the sandbox stopped: why)"


def test_gradescope_results_in_korean(korean_result):
    from grader.gradescope.results import to_gradescope

    set_language("ko")
    document = to_gradescope(korean_result)
    assert document["output"].startswith("vgg: ") and "점 중 0점." in document["output"]
    assert "아래의 각 테스트는" in document["output"] and "Each test below" not in document["output"]
    outputs = {t["name"]: t["output"] for t in document["tests"]}
    assert any("예상 원인: " in text for text in outputs.values())
    assert all(HANGUL.search(text) for text in outputs.values())


def test_gradescope_zip_carries_the_language_to_the_worker(tmp_path):
    """``--lang ko``: gradescope.json and the zip's course.toml say ko, the assignment's catalog travels along, and
    a notebook that cannot be graded gets its reason in Korean from the worker (the settings reach it)."""
    from grader.gradescope.build import CourseOptions, build_zip
    from test_gradescope import run_autograder

    built = build_zip(ID, tmp_path / "dist", CourseOptions(lang="ko"))
    with zipfile.ZipFile(built) as archive:
        config = json.loads(archive.read("gradescope.json"))
        assert config["lang"] == "ko" and config["settings"] == {"lang": "ko"}
        assert 'lang = "ko"' in archive.read("course.toml").decode()
        assert f"autograde_tests/locale/ko/LC_MESSAGES/{ID}.po" in archive.namelist()
        assert "grader/locale/ko/LC_MESSAGES/grader.po" in archive.namelist()
        assert "채점되지 않음: 자동 채점기가 설치되지 않았습니다" in archive.read("run_autograder").decode()
        archive.extractall(tmp_path / "root" / "source")
    root = tmp_path / "root"
    for name in ("run_autograder", "setup.sh"):
        (root / "source" / name).chmod(0o755)
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    (root / "run_autograder").chmod(0o755)
    (root / "venv").symlink_to(Path(sys.prefix))
    document, _log = run_autograder(root, {"vgg.ipynb": b'{"cells": [{"cell_type": "code", "sour'})
    assert document["score"] == 0 and "채점되지 않음: vgg.ipynb은(는) 올바른 노트북 JSON이 아닙니다" in document["output"]
    assert all(t["output"].startswith("채점되지 않음: ") for t in document["tests"])


def test_nbgrader_autograded_notebook_in_korean(korean_result, tmp_path):
    release = ROOT / "assignments" / ID / f"{ID}.ipynb"
    set_language("ko")
    nb = autograded.build(None, release, korean_result, grade_cell_of(nbformat.read(release, as_version=4)))
    texts = [o["text"] for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert texts and all(re.match(r"\w+의 숨은 테스트: 0 / \d+점\n", text) for text in texts), texts
    assert any("예상 원인: " in text for text in texts)
    assert not any("Hidden tests for" in text for text in texts)


def test_self_check_prints_korean(tmp_path):
    """``python -m grader check --lang ko NB``: the table, the verdicts and the plugin's wording in Korean."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def relu(x):\n    raise NotImplementedError()",
                                          metadata={"nbgrader": {"grade_id": "relu", "solution": True}}),
                nbformat.v4.new_code_cell("assert relu(1) == 1",
                                          metadata={"nbgrader": {"grade_id": "check_relu", "grade": True}}),
                nbformat.v4.new_code_cell("assert 1 + 1 == 2",
                                          metadata={"nbgrader": {"grade_id": "check_sum", "grade": True}})]
    path = tmp_path / "relu.ipynb"
    nbformat.write(nb, path)
    proc = subprocess.run([sys.executable, "-m", "grader", "check", "--lang", "ko", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    out = proc.stdout
    assert proc.returncode == 1, proc.stderr
    for words in ("relu.ipynb의 공개 검사", "검사", "결과", "통과", "실패: 아직 구현되지 않았습니다",
                  "공개 검사 1개가 실패했습니다."):
        assert words in out, (words, out)
    assert "Visible checks" not in out and "passed" not in out


def test_grading_key_separates_languages_and_catalog_versions(tmp_path):
    tests = tmp_path / "autograde_tests" / "test_toy.py"
    tests.parent.mkdir()
    tests.write_text("def test_x():\n    pass\n")
    toy = Assignment("toy", tmp_path)
    assert toy.grading_key("en") == toy.tests_hash() == toy.grading_key()
    before = toy.grading_key("ko")
    assert before != toy.tests_hash()
    catalog = toy.catalog("ko")
    catalog.parent.mkdir(parents=True)
    catalog.write_text('msgid "x"\nmsgstr "엑스"\n', encoding="utf-8")
    assert toy.grading_key("ko") != before
    assert assignment(ID).grading_key("ko") != assignment(ID).grading_key("en")


def test_make_grade_with_lang_ko_writes_korean_feedback(tmp_path):
    """``python -m grader grade --lang ko``: the workers grade in Korean and the coordinator writes the page in it."""
    write_submission(tmp_path / "submissions", ID, {"conv_params": CONV_BIAS_BY_DEFAULT}, base=released_notebook(ID),
                     student="s1")
    out = tmp_path / "grades"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(tmp_path / "submissions"), "--out", str(out),
                           "--workers", "1", "--lang", "ko"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (out / "feedback" / "s1" / f"{ID}.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in page and "s1 님의 피드백" in page and "예상 원인: " in page
    result = json.loads((out / "results" / "s1" / f"{ID}.json").read_text(encoding="utf-8"))
    assert result["status"] == "graded"   # the status programs read stays English
    assert any(t["message"].startswith("아직 구현되지 않았습니다") for t in result["tests"])


def test_likely_cause_prefixes_cover_every_language():
    """The class report reads likely causes back out of messages, whatever language they were written in."""
    from grader.checks.failures import likely_cause_prefixes

    assert likely_cause_prefixes() == ("Likely cause: ", "예상 원인: ")
    set_language("ko")
    assert failure(fail, "x", "y").endswith("\n" + likely_cause_prefixes()[1] + "y")
