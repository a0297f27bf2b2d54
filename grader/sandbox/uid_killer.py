"""Killing every process of a slot uid at the end of each unit, without forking the trusted worker.

``kill(-1, SIGKILL)`` from a process that has taken the slot uid reaches exactly that uid's processes, however
many a student forked and with no race against new forks (a scan of ``/proc`` would race). That process has to
be forked from somewhere, and a fork copies its parent's page tables: 18 ms from a worker with torch imported,
over 50 ms once it holds a few hundred MiB of cached reference results, on every unit. So each worker starts
one small helper (plain Python, nothing imported, started by ``posix_spawn``, not by a fork of the worker) that
forks the short-lived killer instead, in about a millisecond.

Only the trusted worker talks to the helper: the pipes are close-on-exec, the zygote is started with
``close_fds`` and never forks from the worker's memory, so no sandboxed child holds them; the helper also
refuses any uid outside the slot range it was started with. Any trouble with the helper (it died, it did not
answer in time) falls back to forking the worker (``limits.kill_uid``): slower, never weaker.
"""
from __future__ import annotations

import inspect
import os
import select
import struct
import subprocess
import sys
import threading

from grader.sandbox import limits

# The helper's whole program (``python -I -S -c``): read a uid, fork a killer that runs ``limits.kill_all_as``
# (its source, the one function both use), reap it, answer one byte. EOF on stdin (its worker is gone) ends it.
try:
    _KILL_ALL_AS = inspect.getsource(limits.kill_all_as)
except (OSError, TypeError):  # installed without its sources: every kill forks the worker, as before
    _KILL_ALL_AS = None
HELPER = "import os, signal, struct, sys\n" + (_KILL_ALL_AS or "") + r"""
first, end = int(sys.argv[1]), int(sys.argv[2])
read, write = sys.stdin.buffer.raw, sys.stdout.buffer.raw
while True:
    data = b""
    while len(data) < 4:
        chunk = read.read(4 - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    (uid,) = struct.unpack(">I", data)
    if not first <= uid < end:
        write.write(b"r")
        continue
    pid = os.fork()
    if pid == 0:
        try:
            kill_all_as(uid)
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    write.write(b"k" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else b"f")
"""
ANSWER_TIMEOUT_S = 5.0


class UidKiller:
    """This worker's helper, started at first use and again after it fails; safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None

    def kill_uid(self, uid: int) -> None:
        """SIGKILL every process running as the slot uid ``uid`` (nothing for a uid outside the slot range)."""
        if not limits.is_sandbox_uid(uid) or os.geteuid() != 0:
            return
        with self._lock:
            if _KILL_ALL_AS is not None and self._ask(uid):
                return
        limits.kill_uid(uid)  # the helper failed: fork the worker, as before

    def _ask(self, uid: int) -> bool:
        try:
            process = self._started()
            process.stdin.write(struct.pack(">I", uid))
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], ANSWER_TIMEOUT_S)
            if ready and process.stdout.read(1) == b"k":
                return True
        except (OSError, ValueError):
            pass
        self.close()
        return False

    def _started(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            first, end = limits.slot_uid_range()
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", HELPER, str(first), str(end)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, close_fds=True, cwd="/")
        return self._process

    def close(self) -> None:
        """Stop the helper (it also stops by itself when this worker goes: its stdin reaches EOF)."""
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_killer = UidKiller()


def kill_uid(uid: int) -> None:
    """``UidKiller.kill_uid`` with this worker's one helper."""
    _killer.kill_uid(uid)
