"""Landlock: a process restricts its own file access to an allow-list, with no privilege (Linux >= 5.13).

The ``uid`` sandbox has no mount namespace to hide the project in, and the
TA's tree is usually world-readable; changing its modes is not ours to do.
So the child allows itself to read only what the root sandbox would bind
into its new root (system directories, the interpreter, the venv, the grader
package, its device nodes) and to write only its private scratch directory;
everything else, solutions, hidden tests, ``grades/`` and other submissions
included, becomes unreachable to it and to everything it starts. Where the
kernel offers them (ABI 4 and 6) TCP, abstract unix sockets and signals to
processes outside the sandbox are refused as well.

Written with ctypes: three system calls and two structures; no maintained
Python binding covers the ABI 6 scopes.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

from grader.sandbox.syscalls import IsolationError, libc

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # one number on every architecture
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
FILE_ACCESS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the rights a rule on a single file may hold


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI (0: none, or disabled at boot)."""
    version = libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(0, int(version))


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(read: list[Path | int], write: list[Path], devices: list[Path]) -> int:
    """From now on, this process and its descendants may only read ``read``, write ``write`` (both recursively)
    and use ``devices`` (an int in ``read``: an open O_PATH handle). Needs ``no_new_privs``. Returns the ABI
    used; raises IsolationError without Landlock."""
    abi = abi_version()
    if abi < 1:
        raise IsolationError(95, "Landlock is not available (Linux >= 5.13 with the landlock LSM enabled)")
    handled = _handled_fs(abi)
    attr = _RulesetAttr(handled, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = ctypes.sizeof(ctypes.c_uint64) * (3 if abi >= 6 else 2 if abi >= 4 else 1)
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        rules = [(p, READ & handled) for p in read] + [(p, handled) for p in write] + [
            (p, (READ_FILE | WRITE_FILE | IOCTL_DEV) & handled) for p in devices]
        for path, access in rules:
            try:
                fd = os.dup(path) if isinstance(path, int) else os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # not on this machine
            try:
                if not os.path.isdir(f"/proc/self/fd/{fd}"):
                    access &= FILE_ACCESS
                rule = _PathBeneathAttr(access, fd)
                if libc.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)):
                    err = ctypes.get_errno()
                    raise IsolationError(err, f"landlock_add_rule {path}: {os.strerror(err)}")
            finally:
                os.close(fd)
        if libc.syscall(SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)):
            err = ctypes.get_errno()
            raise IsolationError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(ruleset)
    return abi
