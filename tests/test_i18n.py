"""Korean feedback: every message the grader writes for a student comes from a complete gettext catalog.

The completeness test re-runs Babel's extraction over ``grader/`` and ``autograde_tests/``
(hidden tests' titles are their docstrings: extracted too), so a message added in English
without its Korean translation, or a translation that lost a placeholder, fails here.
"""
from __future__ import annotations

import ast
import re

import pytest

from conftest import ROOT, released_notebook
from grader.course import assignment, assignment_ids
from grader.i18n import catalogs, messages, normalise, set_language, translate
from grader.i18n.catalogs import placeholders

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.mark.parametrize("domain", catalogs.domains())
def test_every_message_has_a_korean_translation(domain):
    problems = catalogs.problems(domain, "ko")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])


MESSAGE_CALLS = {"_": 1, "N_": 1, "gettext": 1, "_n": 2, "ngettext": 2}  # name → how many message arguments


def _messages_in_code(path) -> list[tuple[int, str]]:
    """Every literal message passed to a gettext call, found by Python's own parser."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MESSAGE_CALLS:
            found += [(node.lineno, arg.value) for arg in node.args[:MESSAGE_CALLS[node.func.id]]
                      if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value]
    return found


@pytest.mark.parametrize("domain", catalogs.domains())
def test_babel_extracts_every_message_the_code_passes_to_gettext(domain):
    """Babel's tokenizing extractor can lose a call (a variable named `_n` inside it once hid a VGG message,
    which then reached Korean students in English while the completeness check passed): the parser finds
    every call the extraction must have seen."""
    extracted = {text for m in catalogs.extract(domain) for text in catalogs.ids(m)}
    lost = [f"{source.path.relative_to(ROOT)}:{line}: {text!r}" for source in catalogs.sources(domain)
            if source.path.suffix == ".py" for line, text in _messages_in_code(source.path) if text not in extracted]
    assert not lost, "not extracted (so never checked for a translation):\n" + "\n".join(lost)


def test_titles_are_extracted_from_docstrings():
    extracted = {m.id for m in catalogs.extract("vgg") if m.id}
    assert "conv_params counts k·k·C_in·C_out weights (3x3x128x128 = 147,456), + C_out biases only if bias=True" \
        in extracted


def test_placeholders_are_compared_with_their_format():
    assert placeholders("{what}: got {value:g}, %(n)s") == placeholders("%(n)s {value:g} 값 {what}")
    assert placeholders("{value:g}") != placeholders("{value}")
    assert placeholders("{what} and {what}") != placeholders("{what}")
    assert placeholders("{0} and {") == placeholders("{0} 그리고 {")   # not a format string: braces as text


def test_a_wrong_placeholder_is_reported(tmp_path, monkeypatch):
    po = tmp_path / "ko" / "LC_MESSAGES" / "vgg.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "{what}: expected {expected}"\nmsgstr "{what}: 기대값 {expectd}"\n', encoding="utf-8")
    monkeypatch.setattr(catalogs, "catalog_path", lambda domain, lang: po)
    monkeypatch.setattr(catalogs, "ROOT", tmp_path)
    monkeypatch.setattr(catalogs, "extract", lambda domain: catalogs.read_po(po.open("rb")))
    found = catalogs.problems("vgg", "ko")
    assert len(found) == 1 and "placeholders differ" in found[0] and "{expectd}" in found[0]


def test_language_is_chosen_per_run():
    _, _n = messages("grader")
    assert normalise("ko_KR.UTF-8") == "ko" and normalise(None) == "en"
    with pytest.raises(ValueError, match="unknown language"):
        normalise("fr")
    title = "conv_params counts k·k·C_in·C_out weights (3x3x128x128 = 147,456), + C_out biases only if bias=True"
    set_language("ko")
    assert HANGUL.search(translate("vgg", title, {}))
    set_language("en")
    assert translate("vgg", title, {}) == title


@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_untouched_release_graded_in_korean(submit, assignment_id):
    """Every title and every message a student reads is Korean, and still names the cell to work on (code names
    and numbers stay as they are)."""
    if not (ROOT / "assignments" / assignment_id / f"{assignment_id}.ipynb").exists():
        from grader.release import generate
        generate(ROOT, [assignment_id])
    result = submit(assignment_id, lang="ko", base=released_notebook(assignment_id))
    assert result["score"] == 0
    cells = assignment(assignment_id).solution_ids()
    for test in result["tests"]:
        assert HANGUL.search(test["title"]), (test["name"], test["title"])
        assert HANGUL.search(test["message"]), (test["name"], test["message"][:200])
        assert any(cell in test["message"] for cell in cells), (test["name"], test["message"][:200])
