"""The hidden tests' pytest session (grader.unit._run_pytest) loads the kit's plugin and pytest's own, nothing that
another installed package registers as a pytest plugin."""
from __future__ import annotations

import importlib.metadata

from grader.course import assignment
from grader.unit import GradingPlugin, _run_pytest


def test_a_grading_session_loads_no_plugin_other_packages_install():
    installed = {entry.name for entry in importlib.metadata.entry_points(group="pytest11")}
    assert installed, "this environment installs pytest plugins (pytest-timeout for the kit's own suite)"
    names: list[str] = []

    class Spy:
        def pytest_configure(self, config):
            names.extend(name for name, _ in config.pluginmanager.list_name_plugin() if name)

    _run_pytest(assignment("vgg"), GradingPlugin(student=None, reference=None), collect_only=True, extra=(Spy(),))
    assert "python" in names and "main" in names  # pytest's own plugins are there: the spy saw the session
    assert not installed & set(names)
