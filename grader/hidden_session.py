"""One pytest session per worker, assignment, kit and language: configured and collected once, run per unit.

``pytest.main`` for every unit configured pytest, registered its plugins, imported nothing new but collected
the hidden tests again and tore it all down: some 40 ms of each unit, the same work each time. A
``HiddenTestSession`` does that once (as ``pytest.main`` does: ``_prepareconfig``, then ``wrap_session``'s
configure, session start and collection) and then runs the same collected items for each unit through pytest's
own ``pytest_runtest_protocol`` hook, in order, exactly as ``pytest_runtestloop`` does. Running an item again
is what pytest's runner supports for pytest-rerunfailures (``runtestprotocol`` re-initialises the item's
fixture request). The last item of a unit is run with ``nextitem=None``, so every fixture and setup is torn
down before the next unit: a unit sees nothing of the one before, as with a fresh session.

What a unit changes is the ``GradingPlugin``'s state only (``begin``): the student's proxy, the reference,
the submission and an empty set of reports. A session that pytest cannot start or whose tests do not collect
cleanly is never used: those units run ``pytest.main`` as before. An internal error of pytest during a unit ends
that unit's run with what was recorded (as ``pytest.main`` does) and drops the session: a broken session is never
reused.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterable

from _pytest.config import _prepareconfig  # pytest.main's own first step; pytest has no public equivalent
from _pytest.main import Session

from grader.pytest_plugin import GradingPlugin


class SessionBroken(Exception):
    """The session could not be set up or did not finish a unit cleanly; the caller falls back on pytest.main."""


class HiddenTestSession:
    """A configured pytest session over one assignment's hidden tests, with its items collected."""

    def __init__(self, args: list[str], plugin: GradingPlugin):
        self.plugin = plugin
        self._devnull = open(os.devnull, "w", encoding="utf-8")  # pytest's terminal writer keeps its stream
        try:
            with self._quiet():
                self.config = _prepareconfig(list(args), [plugin])
                self.config._do_configure()
                self.session = Session.from_config(self.config)
                self.config.hook.pytest_sessionstart(session=self.session)
                self.config.hook.pytest_collection(session=self.session)
        except Exception as err:  # a usage error, a broken conftest: pytest.main reports those for each unit
            self.close()
            raise SessionBroken(f"pytest could not start a session: {type(err).__name__}: {err}") from err
        if self.session.testsfailed or not self.session.items:  # collection errors: never reuse such a session
            self.close()
            raise SessionBroken("the hidden tests did not collect cleanly")
        self.items = list(self.session.items)

    def _quiet(self):
        stack = contextlib.ExitStack()
        stack.enter_context(contextlib.redirect_stdout(self._devnull))
        stack.enter_context(contextlib.redirect_stderr(self._devnull))
        return stack

    def run(self, extra: Iterable[object] = ()) -> None:
        """Run every item once for the unit ``self.plugin`` was begun for, with ``extra`` plugins for this unit
        only; SessionBroken if pytest itself failed (the session is closed then)."""
        manager = self.config.pluginmanager
        added = [plugin for plugin in extra if manager.register(plugin) is not None]
        try:
            with self._quiet():
                hook = self.config.hook
                for index, item in enumerate(self.items):
                    nextitem = self.items[index + 1] if index + 1 < len(self.items) else None
                    hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                    if self.session.shouldfail or self.session.shouldstop:
                        raise SessionBroken("the session was asked to stop")
        except Exception as err:
            self.close()
            raise SessionBroken(f"pytest failed inside the session: {type(err).__name__}: {err}") from err
        finally:
            for plugin in added:
                with contextlib.suppress(ValueError):
                    manager.unregister(plugin)
            reporter = manager.get_plugin("terminalreporter")
            if reporter is not None:  # it keeps every report for a summary that is never printed here
                reporter.stats.clear()

    def close(self) -> None:
        """Finish the session as ``pytest.main`` does (session finish, unconfigure)."""
        if self.closed:
            return
        config, session = getattr(self, "config", None), getattr(self, "session", None)
        with self._quiet(), contextlib.suppress(Exception):
            if session is not None:
                config.hook.pytest_sessionfinish(session=session, exitstatus=0)
            if config is not None:
                config._ensure_unconfigure()
        self.closed = True
        self._devnull.close()

    closed = False

