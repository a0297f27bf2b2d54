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
from grader.sandbox.client import SandboxError, StudentRaised

NO_GPU = "no CUDA GPU on this machine: the CUDA variant of this check was skipped"


def student_message(exc: BaseException) -> str:
    """What a failure says to the student: never the test's code, never the reference's."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, StudentRaised) and exc.type_name == "NotImplementedError":
        frames = [line.strip() for line in exc.traceback.splitlines() if line.strip().startswith("cell ")]
        where = frames[-1] if frames else "your code"
        return f"Not implemented yet: {where} still raises NotImplementedError()."
    if isinstance(exc, StudentRaised):
        text = f"Your code raised {exc.type_name}: {exc.message}"
        return text + (f"\n{exc.traceback}" if exc.traceback else "")
    if isinstance(exc, SandboxError):
        return str(exc)
    if isinstance(exc, AssertionError):
        return str(exc) or "a check failed"
    return f"the check could not be completed: {type(exc).__name__}: {exc}"


class GradingPlugin:
    def __init__(self, student, reference, submission=None, cuda: bool | None = None):
        self._student, self._reference, self._submission = student, reference, submission
        self.cuda = torch.cuda.is_available() if cuda is None else cuda
        self.reports: dict[str, dict] = {}

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

    def pytest_generate_tests(self, metafunc) -> None:
        if "device" in metafunc.fixturenames:
            cuda = pytest.param("cuda", marks=pytest.mark.skipif(not self.cuda, reason=NO_GPU))
            metafunc.parametrize("device", ["cpu", cuda])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        entry = self.reports.setdefault(item.nodeid, {
            "function": getattr(item, "originalname", item.name),
            "variant": item.callspec.id if hasattr(item, "callspec") else "",
            "title": (item.function.__doc__ or "").strip().splitlines()[0] if item.function.__doc__ else "",
            "points": _points(item), "outcome": "passed", "message": ""})
        if report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
            entry["message"] = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        elif report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["message"] = student_message(call.excinfo.value) if call.excinfo else "failed"
        return report

    def results(self) -> list[dict]:
        """One entry per test function, in file order, with the points it earned."""
        grouped: dict[str, dict] = {}
        for entry in self.reports.values():
            test = grouped.setdefault(entry["function"], {
                "name": entry["function"], "title": entry["title"], "max_points": entry["points"],
                "variants": []})
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
            points = test["max_points"] if outcome == "passed" else 0
            tests.append({"name": test["name"], "title": test["title"], "points": points,
                          "max_points": test["max_points"], "outcome": outcome, "message": "\n".join(messages)})
        return tests


def _points(item) -> float:
    marker = item.get_closest_marker("points")
    if marker is None or not marker.args:
        return 0
    value = marker.args[0]
    return int(value) if float(value).is_integer() else float(value)
