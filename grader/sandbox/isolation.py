"""What a freshly forked child does to itself before it runs a line of student code: ``enter``.

The steps, in an order that matters (each a kernel mechanism measured on
these machines; the modules named say how):

1. ``detach_from_the_grader``: own session and process group, an empty
   keyring, a death signal, default signal dispositions, only its socket open;
2. ``bound_memory``: the memory bound of its slot's cgroups (``cgroups``: the
   zygote joined them once; its children are born inside) and first place in
   the OOM killer's queue; in the ``container`` and ``uid`` modes,
   ``rootfs.open_closed_paths``: handles on what the slot uid could not walk
   to (Python under root's 0700 home), opened while the child is still root;
3. in the namespace modes (``root``, ``container``, ``userns``):
   ``enter_namespaces`` (``namespaces``): in ``container`` mode the slot's
   uid first; new mount, network, PID, IPC and UTS namespaces (no network at
   all: not even loopback is up), inside a user namespace where the grader
   has no CAP_SYS_ADMIN; then one more fork, so the student runs as PID 1 of
   its own PID namespace: when it ends, the kernel kills everything it
   started (the worker kills that PID 1 directly,
   ``namespaces.sandbox_pid_of``); then ``rootfs.build_file_system``, a new
   root built from an allow-list; then ``limits.apply_limits`` and
   ``limits.drop_privileges``;
4. in the ``uid`` mode (no namespaces allowed): ``enter_private_home``, then
   limits, the slot's uid and ``no_new_privs``, then ``landlock.restrict``
   (only the allow-list readable, only the home writable) and
   ``syscall_filter.install`` (no new sockets, namespaces, mounts, ptrace);
5. with CUDA, a per-process GPU memory bound registered to run when CUDA is
   first initialised (so a child that never touches the GPU pays nothing).
"""
from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from grader.sandbox import cgroups, landlock, syscall_filter
from grader.sandbox.limits import DEFAULT_LIMITS, apply_limits, become, bound_cuda_memory, drop_privileges
from grader.sandbox.modes import SandboxMode, can_isolate
from grader.sandbox.namespaces import enter_pid_namespace, enter_user_namespace, userns_ids
from grader.sandbox.rootfs import (SYSTEM_DIRECTORIES, build_file_system, device_nodes, needed_paths,
                                   open_closed_paths, reach_through_handles)
from grader.sandbox.syscalls import (NAMESPACES, join_new_session_keyring, set_death_signal, set_dumpable,
                                     set_no_new_privs, unshare)


def close_other_fds(keep: socket.socket) -> None:
    """Leave the child only stdin/stdout/stderr (pointed at /dev/null) and its own socket."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.closerange(3, keep.fileno())
    os.closerange(keep.fileno() + 1, 65536)


def reset_signals() -> None:
    """The zygote's own handlers (SIGTERM cleanup, ignored SIGCHLD) must not leak into a child."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def detach_from_the_grader(sock: socket.socket) -> None:
    os.setsid()  # its own session and process group: the worker kills the whole group
    join_new_session_keyring()
    set_death_signal()
    reset_signals()
    close_other_fds(sock)


def bound_memory(slot: int, limits: dict) -> None:
    cgroups.set_oom_score_adj(1000)  # the first choice of any OOM killer, in the slot's cgroup or on the machine
    cgroups.set_memory_bound(slot, int(limits["total_memory_bytes"]))  # the zygote joined its cgroups


def enter_namespaces(mode: SandboxMode, uid: int, gid: int) -> None:
    if mode is SandboxMode.CONTAINER:
        become(uid, gid)  # root without CAP_SYS_ADMIN: as a grader without root, from an unprivileged uid
        set_dumpable()  # (to write its own uid_map)
    if mode.in_user_namespace:
        enter_user_namespace(uid, gid)
    else:
        unshare(NAMESPACES)
    enter_pid_namespace()


def enter_private_home(scratch: str, uid: int) -> Path:
    """The uid sandbox's only writable place: a 0700 directory of the slot uid inside the unit's scratch
    directory (which the worker removes, with everything in it, when the unit ends)."""
    os.chmod(scratch, 0o711)  # the worker's own temporary directory: the uid may pass through, not list it
    home = Path(scratch) / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, uid, uid)
    return home


def restrict_to_allow_list(config: dict, home: Path, handles: dict[Path, int]) -> None:
    """Landlock: read only what the root sandbox would bind into its new root; write only ``home``."""
    system = [Path(d) for d in SYSTEM_DIRECTORIES] + [Path("/proc"), Path("/sys")]
    needed = [p for p in needed_paths(config) if not any(h == p or h in p.parents for h in handles)]
    landlock.restrict(read=system + needed + list(handles.values()), write=[home], devices=device_nodes())


def enter(config: dict, sock: socket.socket) -> None:
    """Isolate this freshly forked child; raises if it cannot be isolated as its mode says.

    ``config`` holds what the worker asked for (``limits``, ``hide``,
    ``expose``, ``scratch``, ``cuda``) and what the zygote adds: its ``mode``,
    its pid (``slot``) and its ``slot_uid``.
    """
    limits = {**DEFAULT_LIMITS, **config.get("limits", {})}
    mode = SandboxMode(config["mode"]) if config.get("isolate", True) else SandboxMode.NONE  # (bench: plain fork)
    if mode is SandboxMode.ROOT and not can_isolate():
        raise PermissionError("the root sandbox needs root")
    detach_from_the_grader(sock)
    uid, gid = (int(config["slot_uid"]),) * 2 if mode.has_slot_uids else userns_ids()
    if mode.isolated:
        bound_memory(int(config["slot"]), limits)
    handles = open_closed_paths(config) if mode in (SandboxMode.CONTAINER, SandboxMode.UID) else {}
    if mode is SandboxMode.UID:
        home = enter_private_home(config["scratch"], uid)
        apply_limits(limits, bool(config.get("cuda")))
        become(uid, gid)
        set_no_new_privs()
        restrict_to_allow_list(config, home, handles)
        reach_through_handles(handles)
        syscall_filter.install()
        os.chdir(home)
        os.environ["HOME"] = os.environ["TMPDIR"] = str(home)
    elif mode.isolated:
        enter_namespaces(mode, uid, gid)
        build_file_system(config, limits, handles)
        os.chdir("/tmp")
        apply_limits(limits, bool(config.get("cuda")))
        drop_privileges(uid, gid, in_userns=mode.in_user_namespace)
        os.environ["HOME"] = "/tmp"
    else:
        if config.get("scratch"):
            os.chdir(config["scratch"])
        apply_limits(limits, bool(config.get("cuda")))
    if config.get("cuda"):
        bound_cuda_memory(float(limits["cuda_memory_fraction"]))
