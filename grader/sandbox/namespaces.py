"""Namespaces of a child: a user namespace where the grader has no root, and the PID namespace it lives in."""
from __future__ import annotations

import os
from pathlib import Path

from grader.sandbox.syscalls import CLONE_NEWUSER, NAMESPACES, IsolationError, set_death_signal, unshare


def userns_ids() -> tuple[int, int]:
    """The ids a user-namespace child keeps: the grader's own (the only ones it may map)."""
    return os.geteuid(), os.getegid()


def enter_user_namespace(uid: int, gid: int) -> None:
    """New user namespace (owning the other new namespaces) in which only this process's own uid/gid exist."""
    if os.geteuid() == 0:  # mapping root to itself would leave the child root on the host's files
        raise IsolationError(1, "the user-namespace sandbox is for graders that do not run as root")
    unshare(CLONE_NEWUSER | NAMESPACES)
    map_ids(uid, gid)


def map_ids(uid: int, gid: int) -> None:
    """In a fresh user namespace: map ``uid``/``gid`` to themselves, nothing else (no other uid exists inside)."""
    Path("/proc/self/setgroups").write_text("deny", encoding="ascii")  # required before gid_map without root
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1\n", encoding="ascii")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1\n", encoding="ascii")


def enter_pid_namespace() -> None:
    """Fork once more after unshare(CLONE_NEWPID): the new process is PID 1 of the sandbox.

    The middle process runs no student code: it only waits and passes on the
    exit status. The worker kills PID 1 itself (found as the middle process's
    only child); when PID 1 dies the kernel kills every process left in the
    namespace, whatever they did to their death signal or process group.
    """
    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    set_death_signal()


def sandbox_pid_of(middle_pid: int) -> list[int]:
    """The host pid of a child's PID 1: the only child of the middle process the zygote forked."""
    try:
        with open(f"/proc/{middle_pid}/task/{middle_pid}/children", encoding="ascii") as handle:
            return [int(p) for p in handle.read().split()]
    except (OSError, ValueError):
        return []
