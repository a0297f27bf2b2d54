"""The zygote: a process that imported torch once and forks one sandboxed child per submission.

Started by a trusted worker as ``python -m grader.sandbox.zygote FD [MODE]``
(MODE: ``auto``, the default, or a ``SandboxMode`` by name). It must
never import solutions, hidden tests or reference results: a child can read
everything that was in its parent's memory before the fork.

Protocol on the control socket FD: the zygote first sends
``{"mode": ..., "uid": ...}`` when it is ready (the mode chosen, the slot uid
claimed); then the worker sends ``{"op": "fork", "config": {...}}`` for each
child; the zygote forks, and sends back the child's pid together with the
worker's end of a fresh socket pair (SCM_RIGHTS), so the child talks to the
worker directly and the zygote stays out of the data path.

A zygote is one concurrent slot: its children run as the slot uid it claimed
(``limits.claim_slot_uid``), inside the slot's cgroups, which it joins once at
start-up (``cgroups.enter_slot``). When the worker closes the control socket
or dies (the zygote's death signal is SIGTERM, not SIGKILL, for this), it
kills every process of its slot uid and removes the slot's cgroups before
exiting.
"""
from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket
import struct
import sys

PR_SET_PDEATHSIG = 1
FORK = "fork"  # the one request on the control socket


def _die_with_parent() -> None:
    """SIGTERM when the worker dies, so the zygote still cleans up (``_clean_up``) before it goes."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class _Stop(BaseException):
    pass


def _on_term(signum, frame):
    raise _Stop()


def _clean_up(uid: int | None) -> None:
    """Nothing a child started may outlive this zygote: kill every process of its slot uid, drop its cgroups."""
    from grader.sandbox import cgroups, limits

    if uid is not None:
        limits.kill_uid(uid)
    cgroups.leave_slot(os.getpid())


def warm_up() -> None:
    """Pay torch's lazy initialisation once here instead of once per child."""
    import torch
    from torch import nn

    from grader.sandbox import meta_kernels

    meta_kernels.install()

    torch.set_num_threads(1)  # before any op: a multi-threaded parent makes forked children hang in libgomp
    torch.set_num_interop_threads(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    model(x).sum().backward()
    with torch.device("meta"):  # the first meta op imports torch._dynamo (seconds): pay it here, once
        meta = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
                             nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(), nn.Linear(4, 2))
        nn.init.kaiming_normal_(meta[0].weight)
        meta(torch.cat([torch.empty(1, 3, 9, 9), torch.empty(1, 3, 9, 9)]))
    torch.einsum("bchw,oc->bohw", torch.randn(1, 2, 2, 2), torch.randn(3, 2))


def _preimport() -> None:
    import math  # noqa: F401  (students' setup cells import these; importing them once here saves each child)
    import collections  # noqa: F401
    import numpy  # noqa: F401
    import torch.nn.functional  # noqa: F401
    import torch.overrides  # noqa: F401

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        pass


def serve(control: socket.socket, slot: dict) -> None:
    """Fork a child per request; ``slot`` (mode, pid, uid) goes into each child's configuration."""
    from grader import wire
    from grader.sandbox import isolation, runtime

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    gc.collect()
    gc.freeze()  # otherwise a gc.collect() in a child touches (and copies) every inherited page
    while True:
        try:
            request = wire.recv_plain(control)
        except wire.PeerGone:
            return
        if request.get("op") != FORK:
            continue
        worker_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                worker_end.close()
                try:
                    isolation.enter({**request.get("config", {}), **slot}, child_end)
                except BaseException as err:  # tell the worker why, instead of vanishing
                    wire.send(child_end, {"setup_failed": f"{type(err).__name__}: {err}"})
                    raise
                runtime.main(child_end)
            finally:
                os._exit(70)
        child_end.close()
        socket.send_fds(control, [struct.pack(">q", pid)], [worker_end.fileno()])
        worker_end.close()


def main() -> None:
    signal.signal(signal.SIGTERM, _on_term)
    _die_with_parent()
    if os.getppid() == 1:  # the worker was gone before the death signal was armed
        return
    control = socket.socket(fileno=int(sys.argv[1]))
    uid = None
    try:
        warm_up()
        _preimport()
        from grader import wire
        from grader.sandbox import cgroups, limits, modes

        mode = modes.choose_mode(sys.argv[2] if len(sys.argv) > 2 else "auto")
        if mode.has_slot_uids:
            uid, _lock = limits.claim_slot_uid(os.getpid())  # the lock is held until this process exits
        if mode is modes.SandboxMode.UID:
            from grader.sandbox.syscall_filter import load_library

            load_library()  # here, while libseccomp is surely readable: children inherit it
        if mode.isolated:  # best effort without root: only where the user's cgroup is delegated
            cgroups.enter_slot(os.getpid(), limits.DEFAULT_LIMITS["total_memory_bytes"])
        wire.send(control, {"mode": mode.value, "uid": uid})
        serve(control, {"mode": mode.value, "slot": os.getpid(), "slot_uid": uid})
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _clean_up(uid)


if __name__ == "__main__":
    main()
