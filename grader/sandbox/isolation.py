"""What a freshly forked child does to itself before it runs a line of student code: ``enter``.

The steps, in an order that matters (each a kernel mechanism measured on
these machines; the modules named say how):

1. ``detach_from_the_grader``: own session and process group, an empty
   keyring, a death signal, default signal dispositions, only its socket open;
2. ``enter_namespaces`` (``namespaces``): new mount, network, PID, IPC and UTS
   namespaces (no network at all: not even loopback is up), inside a user
   namespace where the grader has no root; then one more fork, so the student
   runs as PID 1 of its own PID namespace: when it ends, the kernel kills
   everything it started. The worker kills that PID 1 directly
   (``namespaces.sandbox_pid_of``);
3. the memory bound of its slot's cgroups (``cgroups``: the zygote joined them
   once; its children are born inside) and first place in the OOM killer's
   queue;
4. ``rootfs.build_file_system``: a new root built from an allow-list;
5. ``limits.apply_limits``, then ``limits.drop_privileges``: the slot's
   unprivileged uid, ``no_new_privs``, the death signal again;
6. with CUDA, a per-process GPU memory bound registered to run when CUDA is
   first initialised (so a child that never touches the GPU pays nothing).
"""
from __future__ import annotations

import os
import signal
import socket

from grader.sandbox import cgroups
from grader.sandbox.limits import DEFAULT_LIMITS, apply_limits, bound_cuda_memory, drop_privileges
from grader.sandbox.modes import SandboxMode, can_isolate
from grader.sandbox.namespaces import enter_pid_namespace, enter_user_namespace, userns_ids
from grader.sandbox.rootfs import build_file_system
from grader.sandbox.syscalls import NAMESPACES, join_new_session_keyring, set_death_signal, unshare


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
    os.setsid()  # its own process group: the worker kills the whole group
    join_new_session_keyring()
    set_death_signal()
    reset_signals()
    close_other_fds(sock)


def enter_namespaces(mode: SandboxMode, uid: int, gid: int) -> None:
    if mode is SandboxMode.USERNS:
        enter_user_namespace(uid, gid)
    else:
        unshare(NAMESPACES)
    enter_pid_namespace()


def bound_memory(slot: int, limits: dict) -> None:
    cgroups.set_oom_score_adj(1000)  # the first choice of any OOM killer, in the slot's cgroup or on the machine
    cgroups.set_memory_bound(slot, int(limits["total_memory_bytes"]))  # the zygote joined its cgroups


def enter(config: dict, sock: socket.socket) -> None:
    """Isolate this freshly forked child; raises if isolation was asked for and failed.

    ``config`` holds what the worker asked for (``limits``, ``hide``,
    ``expose``, ``scratch``, ``cuda``) and what the zygote adds: its ``mode``,
    its pid (``slot``) and its ``slot_uid``.
    """
    limits = {**DEFAULT_LIMITS, **config.get("limits", {})}
    mode = SandboxMode(config["mode"]) if config.get("isolate", True) else SandboxMode.LIMITS  # (bench: a plain fork)
    if mode is SandboxMode.ROOT and not can_isolate():
        raise PermissionError("the root sandbox needs root")
    detach_from_the_grader(sock)
    uid, gid = userns_ids() if mode is SandboxMode.USERNS else (int(config["slot_uid"]),) * 2
    if mode.isolated:
        bound_memory(int(config["slot"]), limits)
        enter_namespaces(mode, uid, gid)
        build_file_system(config, limits)
        os.chdir("/tmp")
    elif config.get("scratch"):
        os.chdir(config["scratch"])
    apply_limits(limits, bool(config.get("cuda")))
    if mode.isolated:
        drop_privileges(uid, gid, in_userns=mode is SandboxMode.USERNS)
    os.environ["HOME"] = "/tmp"
    if config.get("cuda"):
        bound_cuda_memory(float(limits["cuda_memory_fraction"]))
