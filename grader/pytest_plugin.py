"""The pytest plugin that turns ``autograde_tests/`` into scores and student-readable messages.

Hidden tests are ordinary pytest functions with ``@pytest.mark.points(n)``
and the fixtures ``student`` (the sandboxed submission), ``reference`` (the
solution notebook, loaded here in the trusted process) and ``device``
("cpu", and "cuda" where a GPU exists, else skipped with the reason). A test
that is parametrized over devices earns its points once, when every variant
that ran passed, so the maximum score is the same on every machine.
"""
from __future__ import annotations

import pytest
import torch

from grader.checks import CheckFailed
from grader.checks.failures import sandbox_words
from grader.checks.composite import take_notes
from grader.i18n import N_, _, translate
from grader.i18n.extract import test_title
from grader.sandbox.client import SandboxError, StudentRaised, StudentTimeout

NO_GPU = N_("no CUDA GPU on this machine: the CUDA variant of this check was skipped")


def student_message(exc: BaseException) -> str:
    """What a failure says to the student: never the test's code, never the reference's."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, StudentRaised) and exc.type_name == "NotImplementedError":
        frames = [line.strip() for line in exc.traceback.splitlines() if line.strip().startswith("cell ")]
        if frames:
            return _("Not implemented yet: {where} still raises NotImplementedError().", where=frames[-1])
        return _("Not implemented yet: your code still raises NotImplementedError().")
    if isinstance(exc, StudentTimeout):
        return _("Your code did not finish in time ({why}): is there a loop that never ends?", why=exc)
    if isinstance(exc, StudentRaised):
        text = _("Your code raised {error_type}: {error_message}", error_type=exc.type_name,
                 error_message=sandbox_words(exc.message))
        return text + (f"\n{exc.traceback}" if exc.traceback else "")
    if isinstance(exc, SandboxError):
        return str(exc)
    if isinstance(exc, AssertionError):
        return str(exc) or _("a check failed")
    return _("the check could not be completed: {error_type}: {error_message}", error_type=type(exc).__name__,
             error_message=exc)


class GradingPlugin:
    def __init__(self, student, reference, submission=None, cuda: bool | None = None):
        self._student, self._reference, self._submission = student, reference, submission
        self.cuda = torch.cuda.is_available() if cuda is None else cuda
        self.reports: dict[str, dict] = {}

    def begin(self, student, reference, submission=None) -> None:
        """Grade another unit in the same session (``grader.hidden_session``): its fixtures' values, no reports."""
        self._student, self._reference, self._submission = student, reference, submission
        self.reports = {}

    def end(self) -> list[dict]:
        """``results()``, then nothing of the unit kept: a worker's long-lived session holds no student's values."""
        results = self.results()
        self.begin(None, None, None)
        return results

    @pytest.fixture
    def student(self):
        return self._student

    @pytest.fixture
    def reference(self):
        return self._reference

    @pytest.fixture
    def submission(self):
        """The parsed submission (cell sources by grade_id), for static checks in the trusted process."""
        return self._submission

    def pytest_configure(self, config) -> None:
        config.addinivalue_line("markers", "points(n): points this hidden test is worth")
        config.addinivalue_line("markers", "confirmed_by(*tests): credit only when these behavioural tests pass")
        config.addinivalue_line("markers", "exercise(grade_id): the one exercise (solution cell) this test grades")

    def pytest_generate_tests(self, metafunc) -> None:
        if "device" in metafunc.fixturenames:
            cuda = pytest.param("cuda", marks=pytest.mark.skipif(not self.cuda, reason=_(NO_GPU)))
            metafunc.parametrize("device", ["cpu", cuda])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call) -> pytest.TestReport | None:
        """A failed test's report, without the traceback pytest formats for it (6 ms of a unit, read by no one).

        A failure's message comes from its exception (``student_message``), never from the report's text, and
        the session prints nothing (``--tb=no``, output discarded). Skips, passes and exception groups go to
        pytest's own ``TestReport.from_item_and_call``; no section is lost, as the capture plugin is off.
        """
        excinfo = call.excinfo
        if excinfo is None or excinfo.errisinstance((pytest.skip.Exception, BaseExceptionGroup)):
            return None
        return pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed",
                                 excinfo.exconly(), call.when, (), call.duration, call.start, call.stop,
                                 user_properties=item.user_properties)

    # pytest registers only methods named pytest_*: this one under the hook's own name (specname), as a wrapper
    @pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
    def pytest_runtest_makereport_recorded(self, item, call):
        report = yield
        entry = self.reports.setdefault(item.nodeid, {
            "function": getattr(item, "originalname", item.name),
            "variant": item.callspec.id if hasattr(item, "callspec") else "",
            "title": title_of(item),
            "points": _points(item), "exercise": exercise_of(item), "outcome": "passed", "message": "",
            "confirmed_by": _confirmed_by(item)})
        notes = take_notes() if call.when == "call" else ""
        if report.passed and notes and entry["outcome"] == "passed":
            entry["message"] = notes   # a passed test's note, e.g. its points came from the error carried forward
        if report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
            entry["message"] = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        elif report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["message"] = student_message(call.excinfo.value) if call.excinfo else _("failed")
        return report

    def results(self) -> list[dict]:
        """One entry per test function, in file order, with the points it earned."""
        grouped: dict[str, dict] = {}
        for entry in self.reports.values():
            test = grouped.setdefault(entry["function"], {
                "name": entry["function"], "title": entry["title"], "max_points": entry["points"],
                "exercise": entry["exercise"], "confirmed_by": entry["confirmed_by"], "variants": []})
            test["variants"].append(entry)
        tests = []
        for test in grouped.values():
            ran = [v for v in test["variants"] if v["outcome"] != "skipped"]
            bad = [v for v in ran if v["outcome"] in ("failed", "error")]
            if bad:
                outcome = "error" if all(v["outcome"] == "error" for v in bad) else "failed"
            else:
                outcome = "passed" if ran else "skipped"
            messages = []
            for v in test["variants"]:
                if v["message"] and (v["outcome"] != "skipped" or not ran):
                    messages.append(f"[{v['variant']}] {v['message']}" if v["variant"] and len(ran) > 1
                                    else v["message"])
            tests.append({"name": test["name"], "title": test["title"], "max_points": test["max_points"],
                          "exercise": test["exercise"], "outcome": outcome, "message": "\n".join(messages),
                          "confirmed_by": test["confirmed_by"]})
        return [_score(test, {t["name"]: t for t in tests}) for test in tests]


def _score(test: dict, by_name: dict[str, dict]) -> dict:
    """Points for a passed test; a structural test also needs its behavioural confirmation to have passed.

    A parameter count or ``state_dict`` layout is reported by the sandbox, and a
    submission can fake what it reports. ``@pytest.mark.confirmed_by("test_x")``
    credits such a test only when test_x -- which loads the reference's weights into
    the same module and compares outputs here, in the trusted process -- passed too.
    """
    test = {key: value for key, value in test.items() if key != "confirmed_by"}
    missing = [name for name in _confirmations(test["name"], by_name)
               if by_name.get(name, {}).get("outcome") in ("failed", "error", None)]
    if test["outcome"] == "passed" and missing:
        titles = "; ".join(f"'{by_name[n]['title'] or n}'" if n in by_name else f"'{n}'" for n in missing)
        test.update(outcome="failed", message=_("Not credited yet: this structure is credited once the same module "
                                                "also computes the reference function ({titles} must pass too).",
                                                titles=titles))
    test["points"] = test["max_points"] if test["outcome"] == "passed" else 0
    return test


def _confirmations(name: str, by_name: dict[str, dict]) -> list[str]:
    return list(by_name.get(name, {}).get("confirmed_by") or [])


def _confirmed_by(item) -> list[str]:
    marker = item.get_closest_marker("confirmed_by")
    return [str(name) for name in marker.args] if marker else []


def title_of(item) -> str:
    """The test's title as the student reads it: its docstring's first line, from its assignment's catalog."""
    domain = item.module.__name__.rpartition(".")[2].removeprefix("test_")
    return translate(domain, test_title(item.function.__doc__), {})


def exercise_of(item) -> str:
    """The grade_id named by ``@pytest.mark.exercise``: the one exercise a hidden test grades ("" if unmarked).

    Later work (nbgrader grade cells, charging one mistake once) reads this mapping.
    """
    marker = item.get_closest_marker("exercise")
    return str(marker.args[0]) if marker and marker.args else ""


def _points(item) -> float:
    marker = item.get_closest_marker("points")
    if marker is None or not marker.args:
        return 0
    value = marker.args[0]
    return int(value) if float(value).is_integer() else float(value)
