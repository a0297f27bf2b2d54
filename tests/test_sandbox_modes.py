"""Which sandbox a run gets, and that a run which cannot build the one asked for stops before grading anything.

(The attack corpus in test_attacks.py checks what each sandbox holds back, in every mode.)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from grader.course import project_root
from grader.sandbox import modes
from grader.sandbox.limits import slot_uid_range
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
        modes.choose_mode("limits")  # the old "limits" fallback is gone: no quiet no-sandbox
    done = _grade(tmp_path, "userns")
    assert done.returncode == 2 and "the 'userns' sandbox is not available here" in done.stderr, done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="without root only (as root the full sandbox is used)")
def test_without_root_the_user_namespace_sandbox_is_chosen_where_the_kernel_allows_it():
    if modes.probe_userns():
        assert modes.choose_mode("auto") is SandboxMode.USERNS
    else:  # no quiet fallback: the run stops, saying why
        with pytest.raises(modes.IsolationError, match="no sandbox can be built"):
            modes.choose_mode("auto")
    with pytest.raises(modes.IsolationError, match="it needs root"):
        modes.choose_mode("root")


def test_slot_uids_come_from_inside_the_uid_map():
    """Containers often map only 65,536 ids: 200,000 + pid would not exist there."""
    first, end = slot_uid_range("         0     100000      65536\n")
    assert 0 < first and end <= 65534 and end - first >= 16_000
    assert slot_uid_range("0 0 4294967295\n") == (200_000, 200_000 + 4_194_304)  # a pid never collides
    first, end = slot_uid_range("0 1000 1\n1 100000 65536\n")  # rootless podman: own uid, then a subordinate range
    assert 1 <= first and end <= 65535


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="emulates a container: needs root")
def test_a_machine_with_no_sandbox_stops_before_grading_and_says_what_it_lacks(tmp_path):
    """A default Docker container on a kernel without Landlock (tests/container.py, "old-kernel"): not the root
    sandbox, not the container one, not the uid one. Nothing is graded, and each reason is given."""
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "container.py"), "exec", "old-kernel",
                           sys.executable, "-m", "grader", "grade", str(ROOT / "examples" / "submissions"),
                           "--out", str(tmp_path / "grades")],
                          env={k: v for k, v in os.environ.items() if k != "CNN_GRADER_SANDBOX"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no sandbox can be built on this machine" in done.stderr
    for reason in ("root: unshare: Operation not permitted", "container: unshare: Operation not permitted",
                   "uid: Landlock is not available", "CNN_GRADER_SANDBOX=none"):
        assert reason in done.stderr, (reason, done.stderr)
    assert not (tmp_path / "grades").exists()


def test_no_sandbox_only_by_name_and_with_the_warning(tmp_path):
    """CNN_GRADER_SANDBOX=none grades (the mode on the first line, the warning after the table)."""
    submissions = tmp_path / "submissions" / "stub" / "densenet"
    submissions.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / "densenet" / "densenet.ipynb", submissions)
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(tmp_path / "submissions"), "--out",
                           str(tmp_path / "grades"), "--workers", "1"], env={**os.environ, "CNN_GRADER_SANDBOX": "none"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == f"sandbox: none ({SandboxMode.NONE.description})"
    assert "warning: no sandbox (CNN_GRADER_SANDBOX=none)" in done.stderr
    assert (tmp_path / "grades" / "grades.csv").exists()
