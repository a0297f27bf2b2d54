"""The worker's slot-uid killer (grader/sandbox/uid_killer.py): kills exactly one slot's processes, refuses
other uids, recovers from its own death, and is never reachable from a sandboxed child."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.sandbox import limits
from grader.sandbox.uid_killer import UidKiller

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="killing by slot uid needs root (CAP_SETUID, CAP_KILL)")


def _sleeper(uid: int) -> subprocess.Popen:
    process = subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[])
    deadline = time.monotonic() + 5
    while os.stat(f"/proc/{process.pid}").st_uid != uid:  # it has taken the uid (exec'd)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return process


@pytest.fixture
def killer():
    killer = UidKiller()
    yield killer
    killer.close()


@pytest.fixture
def two_slot_uids():
    first, end = limits.slot_uid_range()
    return end - 3, end - 2  # far from 200,000 + pid, where live zygotes take theirs


def test_it_kills_every_process_of_the_slot_uid_and_nothing_of_another_slot(killer, two_slot_uids):
    mine, other = two_slot_uids
    victims, bystander = [_sleeper(mine), _sleeper(mine)], _sleeper(other)
    try:
        killer.kill_uid(mine)
        assert [v.wait(timeout=5) for v in victims] == [-9, -9]
        assert bystander.poll() is None, "a process of another slot (another student's unit) was killed"
        assert killer._process is not None and killer._process.poll() is None, "the helper is not kept"
    finally:
        bystander.kill()
        bystander.wait()


def test_the_helper_refuses_a_uid_outside_the_slot_range(killer, two_slot_uids):
    killer.kill_uid(two_slot_uids[0])  # starts it
    helper = killer._process
    for uid in (0, os.getuid(), limits.slot_uid_range()[1]):
        helper.stdin.write(struct.pack(">I", uid))
        assert helper.stdout.read(1) == b"r"
    assert killer.kill_uid(0) is None and killer._process is helper  # not even asked: not a slot uid


def test_a_dead_helper_is_replaced_and_the_processes_are_still_killed(killer, two_slot_uids):
    uid = two_slot_uids[0]
    killer.kill_uid(uid)
    first = killer._process
    first.kill()
    first.wait()
    victim = _sleeper(uid)
    killer.kill_uid(uid)
    assert victim.wait(timeout=5) == -9
    assert killer._process is not None and killer._process.pid != first.pid


def _pipes_of(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("pipe:"):
            found.add(target)
    return found


def test_no_zygote_or_sandboxed_child_holds_the_helpers_pipes(killer, two_slot_uids):
    from grader.sandbox.client import Zygote
    from grader.sandbox.namespaces import sandbox_pid_of

    killer.kill_uid(two_slot_uids[0])
    helper = killer._process
    helper_pipes = _pipes_of(helper.pid)
    assert len(helper_pipes) >= 2
    zygote = Zygote()  # started after the helper, as when a worker restarts a dead zygote
    try:
        child = zygote.fork({"hide": [], "cuda": False})
        try:
            holders = [zygote.process.pid, child.pid, *sandbox_pid_of(child.pid)]
            assert len(holders) >= 2
            for pid in holders:
                assert not _pipes_of(pid) & helper_pipes, f"process {pid} holds the uid killer's pipes"
        finally:
            child.close()
    finally:
        zygote.close()


CONTAINER_CHECK = r'''
import subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from grader.sandbox import limits
from grader.sandbox.uid_killer import UidKiller

def no_fallback(uid):
    raise SystemExit("the helper failed: the worker forked itself")

limits.kill_uid = no_fallback
uid = limits.slot_uid_range()[1] - 4
victim = subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[])
time.sleep(0.3)
killer = UidKiller()
killer.kill_uid(uid)
print("killed" if victim.wait(timeout=5) == -9 else "alive")
killer.close()
'''


@pytest.mark.parametrize("kind", ["container", "container-no-userns"])
def test_the_helper_works_in_a_container_as_root_without_cap_sys_admin(kind):
    """Docker's default capabilities (and, for the second kind, its seccomp profile) are all the helper needs."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "tests" / "container.py"), "exec", kind, sys.executable,
                           "-c", CONTAINER_CHECK, str(root)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "killed", done.stderr[-2000:]
