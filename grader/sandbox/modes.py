"""The sandbox modes, by name, and how one is chosen: once per zygote, recorded in every result, shown to the TA.

Where the grader runs decides how it isolates, never whether (DESIGN.md):

- ``root``: root with CAP_SYS_ADMIN (a server): new mount, network, PID, IPC
  and UTS namespaces, a pivoted allow-list root, one uid and cgroup per slot.
- ``userns`` (a TA without root, where the kernel allows unprivileged user
  namespaces, as bubblewrap uses them): the same namespaces, file system and
  limits, owned by a new user namespace in which the child maps only the
  grader's own uid and then drops every capability. Slots share that uid, but
  each sees only its own processes (PID namespace), files (its own root) and
  no network, so a slot cannot reach another. Cgroups only where the machine
  delegates them to the user (systemd does, for user sessions).
- ``limits``: neither; resource limits and a process group only, and the
  grader says so.

Each is probed in a throwaway child before it is used (``choose_mode``).
"""
from __future__ import annotations

import os
import sys
from enum import Enum

from grader.sandbox.syscalls import (MS_NOEXEC, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_REC, NAMESPACES,
                                     IsolationError, mount, supported_machine, unshare)

SANDBOX_MODE_VARIABLE = "CNN_GRADER_SANDBOX"  # auto (default), or a mode by name


class SandboxMode(str, Enum):
    """How a child is isolated."""

    ROOT = "root"  # root with CAP_SYS_ADMIN (a server): namespaces, pivoted root, one uid and cgroup per slot
    USERNS = "userns"  # a grader without root: the same namespaces inside a user namespace mapping only its uid
    LIMITS = "limits"  # neither root nor user namespaces: limits and a process group only

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def isolated(self) -> bool:
        return self is not SandboxMode.LIMITS


_DESCRIPTIONS = {
    SandboxMode.ROOT: "full",
    SandboxMode.USERNS: "user namespaces (the grader is not running as root: the same isolation, one uid for all "
                        "slots)",
    SandboxMode.LIMITS: "limits only (no root and no user namespaces on this machine)",
}


def can_isolate() -> bool:
    """Namespaces and mounts need root here (see the module docstring)."""
    return os.geteuid() == 0 and sys.platform == "linux"


def _in_throwaway_child(attempt) -> bool:
    """Run ``attempt()`` in a forked child; True when it returned without raising."""
    pid = os.fork()
    if pid == 0:
        try:
            attempt()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def probe() -> bool:
    """Can a child of this process build the full (root) sandbox here? (Forks a throwaway child to find out.)"""
    if not can_isolate() or not supported_machine():
        return False

    def attempt() -> None:
        unshare(NAMESPACES)
        mount("none", "/", None, MS_REC | MS_PRIVATE)
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k")

    return _in_throwaway_child(attempt)


def try_user_namespace_sandbox() -> None:
    """What ``enter`` will do in a user namespace: the namespaces, the id maps, a tmpfs, and a fresh /proc from
    PID 1 of the new PID namespace (a kernel refuses that where the host's /proc is partly masked, as in some
    containers). Raises IsolationError where any of it fails."""
    from grader.sandbox.namespaces import enter_user_namespace, userns_ids

    enter_user_namespace(*userns_ids())
    pid = os.fork()
    if pid == 0:
        try:
            mount("none", "/", None, MS_REC | MS_PRIVATE)
            mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k")
            os.mkdir("/tmp/proc")
            mount("proc", "/tmp/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise IsolationError(1, "no sandbox in a user namespace")


def probe_userns() -> bool:
    """Can a child build the sandbox inside a user namespace of its own (no root needed)?"""
    if sys.platform != "linux" or not supported_machine() or os.geteuid() == 0:
        return False
    return _in_throwaway_child(try_user_namespace_sandbox)


def choose_mode(requested: str = "auto") -> SandboxMode:
    """The strongest sandbox this machine allows ("auto"), or the one asked for ("root", "userns"), or an error."""
    if requested not in ("auto", "root", "userns"):  # "limits" is only ever a fallback: as root it would be none
        raise IsolationError(22, f"unknown sandbox mode {requested!r}: use auto, root or userns")
    if requested in ("auto", "root") and probe():
        return SandboxMode.ROOT
    if requested in ("auto", "userns") and probe_userns():
        return SandboxMode.USERNS
    if requested == "auto":
        return SandboxMode.LIMITS
    raise IsolationError(1, f"the {requested!r} sandbox is not available here: "
                            + ("it needs root" if requested == "root" else
                               "it is for graders without root, on a kernel that allows user namespaces"))
