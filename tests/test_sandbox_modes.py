"""Which sandbox a run gets, and that a run which cannot build the one asked for stops before grading anything.

(The attack corpus in test_attacks.py checks what each sandbox holds back.)
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grader.course import project_root
from grader.sandbox import modes
from grader.sandbox.modes import SandboxMode

ROOT = project_root()


def _grade(tmp_path, mode: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CNN_GRADER_SANDBOX": mode}
    return subprocess.run([sys.executable, "-m", "grader", "grade", str(ROOT / "examples" / "submissions"),
                           "--out", str(tmp_path / "grades")], env=env, capture_output=True, text=True, timeout=120)


def test_an_unknown_sandbox_mode_stops_the_run_before_anything_is_recorded(tmp_path):
    done = _grade(tmp_path, "chroot")
    assert done.returncode == 2
    assert "CNN_GRADER_SANDBOX=chroot: unknown sandbox mode 'chroot'" in done.stderr
    assert not (tmp_path / "grades").exists()  # no zeros in a gradebook that a later run would keep


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: without root, the user-namespace mode is the one used")
def test_root_gets_the_full_sandbox_and_cannot_be_talked_into_a_weaker_one(tmp_path):
    if not modes.probe():
        pytest.skip("this machine gives even root no namespaces (a restricted container)")
    assert modes.choose_mode("auto") is SandboxMode.ROOT
    with pytest.raises(modes.IsolationError, match="for graders without root"):
        modes.choose_mode("userns")  # mapping root to itself in a user namespace would leave it root on files
    with pytest.raises(modes.IsolationError, match="unknown sandbox mode"):
        modes.choose_mode("limits")  # limits only, as root, is no sandbox at all
    done = _grade(tmp_path, "userns")
    assert done.returncode == 2 and "the 'userns' sandbox is not available here" in done.stderr, done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="without root only (as root the full sandbox is used)")
def test_without_root_the_user_namespace_sandbox_is_chosen_where_the_kernel_allows_it():
    expected = SandboxMode.USERNS if modes.probe_userns() else SandboxMode.LIMITS
    assert modes.choose_mode("auto") is expected
    with pytest.raises(modes.IsolationError, match="it needs root"):
        modes.choose_mode("root")
