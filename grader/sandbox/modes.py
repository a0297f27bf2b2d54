"""The sandbox modes, by name, and how one is chosen: once per zygote, recorded in every result, shown to the TA.

Where the grader runs decides how it isolates, never whether (README.md, "How grading works"):

- ``root``: root with CAP_SYS_ADMIN (a server): new mount, network, PID, IPC
  and UTS namespaces, a pivoted allow-list root, one uid and cgroup per slot.
- ``container``: root without CAP_SYS_ADMIN (Docker's default capabilities,
  a Kubernetes pod, Gradescope): each child first takes its slot's
  unprivileged uid (CAP_SETUID is in every default set), then builds the
  ``userns`` sandbox as a grader without root does.
- ``userns`` (a TA without root, where the kernel allows unprivileged user
  namespaces, as bubblewrap uses them): the same namespaces, file system and
  limits, owned by a new user namespace in which the child maps only its own
  uid and then drops every capability. Without root, slots share the
  grader's uid, but each sees only its own processes (PID namespace), files
  (its own root) and no network, so a slot cannot reach another. Cgroups only
  where the machine delegates them to the user (systemd does).
- ``uid``: root where no namespace may be built (Docker's default seccomp
  profile forbids all but the user namespace, and masked ``/proc`` paths or
  AppArmor stop the rest): a separate uid per slot in a session of its own,
  Landlock hiding everything but what the child must read, a seccomp filter
  against new sockets, namespaces, mounts and ptrace, limits, and every
  process and file of the uid removed when its unit ends.
- ``none``: no protection; only when asked for by name
  (``CNN_GRADER_SANDBOX=none``), and the run warns.

``choose_mode`` probes each candidate in a throwaway child, doing what a
child will do, and stops with what the machine lacks when none can be built.
"""
from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path

from grader.sandbox.syscalls import (MS_NOEXEC, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_REC, NAMESPACES,
                                     IsolationError, mount, set_dumpable, set_no_new_privs, supported_machine,
                                     unshare)

SANDBOX_MODE_VARIABLE = "CNN_GRADER_SANDBOX"  # auto (default), or a mode by name


def requested_mode() -> str:
    """The sandbox mode this process's environment asks for now: a mode's name, or ``auto`` when unset."""
    return os.environ.get(SANDBOX_MODE_VARIABLE) or "auto"


class SandboxMode(str, Enum):
    """How a child is isolated."""

    ROOT = "root"  # root with CAP_SYS_ADMIN (a server): namespaces, pivoted root, one uid and cgroup per slot
    USERNS = "userns"  # a grader without root: the same namespaces inside a user namespace mapping only its uid
    CONTAINER = "container"  # root without CAP_SYS_ADMIN (Docker, a pod): a slot uid first, then USERNS's sandbox
    UID = "uid"  # no namespaces at all: a separate uid, Landlock over the files, a seccomp filter
    NONE = "none"  # no protection: only when asked for by name (CNN_GRADER_SANDBOX=none)

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def isolated(self) -> bool:
        return self is not SandboxMode.NONE

    @property
    def in_user_namespace(self) -> bool:
        return self in (SandboxMode.USERNS, SandboxMode.CONTAINER)

    @property
    def has_slot_uids(self) -> bool:
        """Does each slot run as a uid of its own (claimed by its zygote)?"""
        return self in (SandboxMode.ROOT, SandboxMode.CONTAINER, SandboxMode.UID)


_DESCRIPTIONS = {
    SandboxMode.ROOT: "full",
    SandboxMode.USERNS: "user namespaces (the grader is not running as root: the same isolation, one uid for all "
                        "slots)",
    SandboxMode.CONTAINER: "container (root without CAP_SYS_ADMIN: a uid per slot, then user namespaces)",
    SandboxMode.UID: "separate uid (no namespaces allowed here: a uid per slot, Landlock, seccomp, no new sockets)",
    SandboxMode.NONE: "none (asked for by name: student code is not isolated)",
}
AUTO_ORDER_AS_ROOT = (SandboxMode.ROOT, SandboxMode.CONTAINER, SandboxMode.UID)


def can_isolate() -> bool:
    """Namespaces and mounts need root here (see the module docstring)."""
    return os.geteuid() == 0 and sys.platform == "linux"


def _in_throwaway_child(attempt) -> str | None:
    """Run ``attempt()`` in a forked child: None when it returned, else why it failed (one line)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            attempt()
            os._exit(0)
        except BaseException as err:
            os.write(write_end, (getattr(err, "strerror", None) or str(err) or type(err).__name__).encode()[:500])
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reason = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    return None if os.waitstatus_to_exitcode(status) == 0 else (reason or "failed")


def _try_root_sandbox() -> None:
    unshare(NAMESPACES)
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k")


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
        raise IsolationError(1, "a fresh /proc cannot be mounted in a user namespace here (masked /proc paths?)")


def _become_a_probe_uid() -> None:
    """As a child will: take an unprivileged uid, then check that it can still read the interpreter."""
    from grader.sandbox.limits import become, slot_uid_range
    from grader.sandbox.rootfs import alias, needed_paths, open_closed_paths
    import grader.sandbox.namespaces  # noqa: F401 (what the attempt imports: while the kit can still be read)

    handles = open_closed_paths({})  # as a child does: what others cannot walk to is opened while still root
    become(slot_uid_range()[0] - 1)  # just below the slots: a probe never runs as a uid some slot holds
    for path in needed_paths({}):
        reached = next((alias(fd) + str(path)[len(str(h)):] for h, fd in handles.items()
                        if h == path or h in path.parents), str(path))
        try:
            os.listdir(reached)
        except OSError:
            raise IsolationError(13, f"{path} is not readable by an unprivileged uid: install Python and the "
                                     f"kit where other users can read them (as the Dockerfile does)") from None


def _try_container_sandbox() -> None:
    _become_a_probe_uid()
    set_dumpable()
    try_user_namespace_sandbox()


def _try_uid_sandbox() -> None:
    from grader.sandbox import landlock, syscall_filter

    syscall_filter.load_library()
    _become_a_probe_uid()
    set_no_new_privs()
    landlock.restrict([Path("/usr")], [], [])
    syscall_filter.install()


def _try_userns_sandbox() -> None:
    if os.geteuid() == 0:  # mapping root to itself would leave the child root on the host's files
        raise IsolationError(1, "it is for graders without root")
    try_user_namespace_sandbox()


def why_not(mode: SandboxMode) -> str | None:
    """None when ``mode`` can be built here, else what the machine lacks for it."""
    if sys.platform != "linux" or not supported_machine():
        return "it needs Linux on x86-64, arm64, ppc64le or s390x"
    if mode is SandboxMode.NONE:
        return None
    if mode is not SandboxMode.USERNS and os.geteuid() != 0:
        return "it needs root (to give each slot a uid of its own)"
    attempt = {SandboxMode.ROOT: _try_root_sandbox, SandboxMode.CONTAINER: _try_container_sandbox,
               SandboxMode.UID: _try_uid_sandbox, SandboxMode.USERNS: _try_userns_sandbox}[mode]
    return _in_throwaway_child(attempt)


def probe() -> bool:
    """Can a child of this process build the full (root) sandbox here?"""
    return why_not(SandboxMode.ROOT) is None


def probe_userns() -> bool:
    """Can a child build the sandbox inside a user namespace of its own (no root needed)?"""
    return why_not(SandboxMode.USERNS) is None


def choose_mode(requested: str = "auto") -> SandboxMode:
    """The strongest sandbox this machine allows ("auto"), or the one asked for by name; IsolationError when
    it cannot be built, saying what the machine lacks."""
    names = ", ".join(m.value for m in SandboxMode)
    if requested != "auto" and requested not in {m.value for m in SandboxMode}:
        raise IsolationError(22, f"unknown sandbox mode {requested!r}: use auto, {names}")
    candidates = ([SandboxMode(requested)] if requested != "auto" else
                  list(AUTO_ORDER_AS_ROOT) if os.geteuid() == 0 else [SandboxMode.USERNS])
    reasons = []
    for mode in candidates:
        reason = why_not(mode)
        if reason is None:
            return mode
        reasons.append(f"{mode.value}: {reason}")
    if requested != "auto":
        raise IsolationError(1, f"the {requested!r} sandbox is not available here ({reasons[0]})")
    raise IsolationError(1, "no sandbox can be built on this machine (" + "; ".join(reasons) + "). Grade where "
                            "one can (root, or user namespaces allowed; see the README), or set "
                            f"{SANDBOX_MODE_VARIABLE}=none to grade without any protection")
