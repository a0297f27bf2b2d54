"""A zygote started early (``grader.sandbox.launcher``) is the one the worker's first ``Zygote()`` uses, so its
start-up overlaps the worker's own; one that no longer fits (another sandbox mode asked for, or dead) is not."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from grader.sandbox import launcher
from grader.sandbox.client import Zygote
from grader.sandbox.modes import SANDBOX_MODE_VARIABLE
from grader.wire import Op, request


@pytest.fixture(autouse=True)
def no_early_zygote_left():
    yield
    left = launcher.adopt()
    if left is not None:
        left.discard()


def _answer(zygote: Zygote, source: str):
    child = zygote.fork({"hide": [], "cuda": False})
    try:
        child.request(request(Op.RUN_CELL, label="probe", source=source), timeout=30)
        return child.request(request(Op.GET, name="result"), timeout=30)
    finally:
        child.close()


def _gone(process: subprocess.Popen, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process.poll() is not None


def test_the_first_zygote_adopts_the_one_started_early_and_grades_with_it():
    launcher.launch_early()
    early = launcher._early.process  # noqa: SLF001
    launcher.launch_early()  # a second call starts nothing more
    assert launcher._early.process is early  # noqa: SLF001
    zygote = Zygote()
    try:
        assert zygote.process is early
        assert launcher.adopt() is None  # taken once: the next Zygote() starts its own
        assert _answer(zygote, "import torch\nresult = int(torch.ones(3).sum())") == 3
    finally:
        zygote.close()
    assert _gone(early)


def test_an_early_zygote_for_another_sandbox_mode_is_discarded(monkeypatch):
    monkeypatch.setenv(SANDBOX_MODE_VARIABLE, "none")
    launcher.launch_early()
    early = launcher._early.process  # noqa: SLF001
    monkeypatch.delenv(SANDBOX_MODE_VARIABLE)  # the run now asks for the default, "auto"
    zygote = Zygote()
    try:
        assert zygote.process is not early and _gone(early)
        if os.geteuid() == 0:  # auto picks a real sandbox here, which "none" is not
            assert zygote.isolated
        assert _answer(zygote, "result = 6 * 7") == 42
    finally:
        zygote.close()


def test_a_discarded_early_zygote_cleans_up_its_slot_as_it_exits(monkeypatch):
    """Discarded once it has joined its slot's cgroups: it removes them (SIGTERM, not SIGKILL)."""
    from grader.sandbox import cgroups

    monkeypatch.setenv(SANDBOX_MODE_VARIABLE, "auto")
    launcher.launch_early()
    early = launcher._early.process  # noqa: SLF001
    deadline = time.monotonic() + 60
    while not any(d.is_dir() for _, _, d in cgroups._cgroup_dirs(early.pid)) and time.monotonic() < deadline:  # noqa: SLF001
        if early.poll() is not None:
            break
        time.sleep(0.05)
    joined = [d for _, _, d in cgroups._cgroup_dirs(early.pid) if d.is_dir()]  # noqa: SLF001
    if not joined:
        pytest.skip("no cgroup can be created for a sandbox slot on this machine")
    monkeypatch.setenv(SANDBOX_MODE_VARIABLE, "none")
    zygote = Zygote()
    try:
        assert zygote.process is not early and _gone(early)
        assert not [d for d in joined if d.exists()]
    finally:
        zygote.close()


def test_a_dead_early_zygote_is_replaced_by_a_fresh_one():
    launcher.launch_early()
    early = launcher._early.process  # noqa: SLF001
    early.kill()
    early.wait()
    zygote = Zygote()
    try:
        assert zygote.process is not early
        assert _answer(zygote, "result = 'alive'") == "alive"
    finally:
        zygote.close()


def test_the_launcher_does_not_import_torch():
    """What lets a worker start its zygote before its own torch import."""
    code = "import sys, grader.sandbox.launcher; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
