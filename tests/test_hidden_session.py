"""A worker configures and collects each assignment's hidden tests once (grader.hidden_session) and runs the same
items for every unit: each unit's results equal a fresh ``pytest.main``'s, and nothing of one unit (fixtures,
reports, the student's values) reaches the next."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader import unit
from grader.course import assignment
from grader.hidden_session import HiddenTestSession, SessionBroken
from grader.pytest_plugin import GradingPlugin
from grader.unit import grade_unit
from tests.conftest import solution_notebook, write_submission

def _without_skip_connection() -> str:
    """The solution's BasicBlock with its skip connection left out."""
    (source,) = [c.source for c in solution_notebook("resnet").cells
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "basic_block"]
    assert "out += identity" in source
    return source.replace("out += identity", "pass")


def _outcomes(result) -> list[tuple]:
    return [(t.name, t.outcome, t.points, t.message) for t in result.tests]


def test_units_graded_in_one_session_equal_fresh_pytest_runs(tmp_path, monkeypatch):
    notebooks = [write_submission(tmp_path / "right", "resnet"),
                 write_submission(tmp_path / "wrong", "resnet", {"basic_block": _without_skip_connection()}),
                 write_submission(tmp_path / "right-again", "resnet")]
    monkeypatch.setattr(unit, "_sessions", {})
    reused = [_outcomes(grade_unit(path, "resnet", "student")) for path in notebooks]
    assert len(unit._sessions) == 1 and None not in unit._sessions.values()  # one session served all three

    task = assignment("resnet")
    monkeypatch.setattr(unit, "_sessions", {(task.id, task.tests_hash(), "en"): None})  # pytest.main per unit
    fresh = [_outcomes(grade_unit(path, "resnet", "student")) for path in notebooks]
    assert reused == fresh
    assert reused[0] == reused[2] != reused[1]  # the wrong unit between them changed nothing of the third
    assert any(outcome == "failed" for _, outcome, _, _ in reused[1])


def test_failed_tests_reports_skip_pytests_traceback_formatting(tmp_path, monkeypatch):
    """A failed test's report is built without the traceback pytest would format for it (no one reads it): the
    outcomes, points and messages are those pytest's own reports give."""
    from _pytest.nodes import Node

    wrong = write_submission(tmp_path, "resnet", {"basic_block": _without_skip_connection()})
    formatted, original = [], Node._repr_failure_py
    monkeypatch.setattr(Node, "_repr_failure_py",
                        lambda self, *args, **kwargs: formatted.append(self.name) or original(self, *args, **kwargs))
    monkeypatch.setattr(unit, "_sessions", {})
    fast = _outcomes(grade_unit(wrong, "resnet", "student"))
    assert not formatted and any(outcome == "failed" for _, outcome, _, _ in fast)

    monkeypatch.setattr(GradingPlugin, "pytest_runtest_makereport", lambda self, item, call: None)  # pytest's own
    monkeypatch.setattr(unit, "_sessions", {})
    assert _outcomes(grade_unit(wrong, "resnet", "student")) == fast
    assert formatted  # pytest's own reports did format the failures


def test_nothing_of_a_unit_stays_in_the_session(tmp_path, monkeypatch):
    monkeypatch.setattr(unit, "_sessions", {})
    grade_unit(write_submission(tmp_path, "vgg"), "vgg", "student")
    (session,) = unit._sessions.values()
    assert session.plugin._student is None and session.plugin._submission is None and not session.plugin.reports
    assert not session.config.pluginmanager.get_plugin("terminalreporter").stats
    assert all(item.funcargs is None for item in session.items)


TESTS = '''
import pytest

EVENTS = []


@pytest.fixture(scope="module")
def shared():
    EVENTS.append("setup")
    yield
    EVENTS.append("teardown")


def test_first(shared, student):
    EVENTS.append(f"first:{student}")


def test_second(shared, student):
    EVENTS.append(f"second:{student}")
    assert student != "wrong"
'''


def _session(folder: Path, source: str) -> HiddenTestSession:
    (folder / "test_demo.py").write_text(source, encoding="utf-8")
    args = [str(folder), "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(folder), "-c",
            "/dev/null"]
    return HiddenTestSession(args, GradingPlugin(None, None))


def test_each_unit_sets_up_and_tears_down_its_own_fixtures(tmp_path):
    session = _session(tmp_path, TESTS)
    events = session.items[0].module.EVENTS
    try:
        for student in ("right", "wrong"):
            session.plugin.begin(student, None, {})
            session.run()
            outcomes = {r["name"]: r["outcome"] for r in session.plugin.end()}
            assert outcomes == {"test_first": "passed",
                                "test_second": "passed" if student == "right" else "failed"}
        assert events == ["setup", "first:right", "second:right", "teardown",
                          "setup", "first:wrong", "second:wrong", "teardown"]
    finally:
        session.close()


def test_a_session_whose_tests_do_not_collect_is_refused(tmp_path):
    with pytest.raises(SessionBroken):
        _session(tmp_path, "def test_broken(:\n    pass\n")


def test_a_session_pytest_cannot_start_is_refused(tmp_path):
    (tmp_path / "test_demo.py").write_text(TESTS, encoding="utf-8")
    with pytest.raises(SessionBroken, match="could not start"):
        HiddenTestSession([str(tmp_path), "--no-such-option"], GradingPlugin(None, None))
