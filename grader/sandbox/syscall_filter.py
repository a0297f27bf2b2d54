"""The seccomp filter a ``uid``-sandbox child installs on itself before any student code runs.

Without a network namespace the child shares the host's network, so it must
not open sockets of its own: only ``AF_UNIX`` ones (Python's multiprocessing
needs them) can be created; the socket it was handed (to the grader) keeps
working. Nor may it build namespaces (a user namespace would give it
capabilities over new mounts), mount anything, trace a process, create IPC
objects that would outlive it (there is no IPC namespace to end with it), or
use the interfaces that could do any of this behind the filter's back
(io_uring's socket operation, BPF). Under ``no_new_privs`` this needs no privilege, and
it holds for every process the child starts.

Built with libseccomp through ``pyseccomp``, a ctypes binding to the
system's ``libseccomp.so.2``: unlike Debian's ``python3-seccomp`` it
installs into any virtual environment, of any Python version.
"""
from __future__ import annotations

import errno
import socket

from grader.sandbox.syscalls import (CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID,
                                     CLONE_NEWUSER, CLONE_NEWUTS, IsolationError)

NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
                   CLONE_NEWCGROUP)
REFUSED_CALLS = (
    "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount", "fspick",
    "fsconfig", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev", "io_uring_setup", "bpf",
    "perf_event_open", "userfaultfd", "add_key", "request_key", "keyctl", "kexec_load", "init_module",
    "finit_module", "delete_module", "acct", "swapon", "swapoff", "reboot", "syslog",
    "shmget", "semget", "msgget", "mq_open",  # System V and POSIX IPC objects outlive the process: none at all
)


def load_library():
    """The libseccomp binding (import it before the process loses the right to read it); IsolationError without."""
    try:
        import pyseccomp
    except (ImportError, OSError) as err:  # OSError: libseccomp.so.2 itself is missing
        raise IsolationError(95, f"no libseccomp here ({err})") from None
    return pyseccomp


def install(*, refuse_sockets: bool = True) -> None:
    """Load the filter into this process (and so into everything it starts); raises IsolationError where the
    machine has no seccomp or no libseccomp."""
    seccomp = load_library()
    try:
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        refused = seccomp.ERRNO(errno.EPERM)
        for flag in NAMESPACE_FLAGS:
            for call in ("unshare", "clone"):  # clone's flags are its first argument on x86-64 and arm64
                rules.add_rule(refused, call, seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")  # flags hidden in a struct: glibc falls back to clone
        for call in REFUSED_CALLS:
            try:
                rules.add_rule(refused, call)
            except (RuntimeError, ValueError, OSError):
                continue  # a call this architecture does not have
        if refuse_sockets:
            for call in ("socket", "socketpair"):
                rules.add_rule(seccomp.ERRNO(errno.EACCES), call, seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
        rules.load()
    except (RuntimeError, ValueError, OSError) as err:
        raise IsolationError(1, f"the seccomp filter could not be installed: {err}") from None

