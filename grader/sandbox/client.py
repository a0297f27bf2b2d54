"""The trusted worker's handle on its zygote and on each sandboxed child.

The worker owns one zygote for its lifetime; every submission × assignment
gets a fresh child forked from it. All waiting is bounded: each request has a
deadline, after which the child's PID 1 (and with it its whole PID namespace)
and its process group are killed. What the child sends back is data only
(``grader.wire.recv_trusted``), and even its strings are capped here: the
child's own caps are student-controlled.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader import wire
from grader.i18n import _
from grader.sandbox import launcher
from grader.sandbox.diskwatch import DiskWatch
from grader.sandbox.limits import DEFAULT_LIMITS
from grader.sandbox.uid_killer import kill_uid
from grader.sandbox.modes import SandboxMode
from grader.sandbox.namespaces import sandbox_pid_of
from grader.sandbox.zygote import FORK
from grader.wire import Op


MAX_OUTPUT_CHARS = 8_000  # printed output kept per request (the child keeps 4,000, if it was not patched)
MAX_MESSAGE_CHARS = 4_000  # of an error message or traceback


class SandboxError(Exception):
    """The student's process could not answer; the message is written for the student."""


class SandboxTimeout(SandboxError):
    """The child did not answer in time even after its own alarm: it was killed."""


class StudentTimeout(SandboxError):
    """Student code ran past its time limit and was stopped by the child's alarm; the child lives on."""

    def __init__(self, seconds: float):
        super().__init__(_("stopped after {seconds:g} s", seconds=seconds))
        self.seconds = seconds


class SandboxCrashed(SandboxError):
    pass


class InconsistentAnswer(SandboxError):
    """The child's answers contradict each other (e.g. a parameter count that its own modules do not have)."""


class StudentRaised(Exception):
    """Student code raised; carries the student-side type names, message and student-only traceback."""

    def __init__(self, type_name: str, mro: list[str], message: str, traceback: str = ""):
        super().__init__(type_name, message)
        self.type_name, self.mro, self.message, self.traceback = type_name, mro, message, traceback

    def __str__(self) -> str:
        text = f"{self.type_name}: {self.message}" if self.message else self.type_name
        if self.traceback:
            text += "\n" + self.traceback
        return text

    def is_a(self, name: str) -> bool:
        return name in self.mro


class Zygote:
    """A zygote process of this worker (one slot), in the sandbox mode that ``CNN_GRADER_SANDBOX`` asks for."""

    def __init__(self):
        launched = launcher.adopt() or launcher.launch()  # one this process started early, if it still fits
        self.control, self.process = launched.control, launched.process
        try:
            ready = wire.recv_plain(self.control, deadline=time.monotonic() + 120)
            self.mode = SandboxMode(ready["mode"])
            self.uid: int | None = ready["uid"]
        except (wire.WireError, KeyError, TypeError, ValueError):
            self.process.kill()
            err = self.process.stderr.read().decode(errors="replace")[-2000:] if self.process.stderr else ""
            raise RuntimeError(f"the sandbox zygote did not start: {err}") from None
        self.control.settimeout(30)

    @property
    def isolated(self) -> bool:
        return self.mode.isolated

    @property
    def description(self) -> str:
        return self.mode.description

    def fork(self, config: dict) -> "Child":
        finish_closing()
        wire.send(self.control, {"op": FORK, "config": config})
        message, fds, _flags, _addr = socket.recv_fds(self.control, 8, 1)
        if len(message) != 8 or len(fds) != 1:
            raise RuntimeError("the sandbox zygote did not hand over a child")
        (pid,) = struct.unpack(">q", message)
        child = Child(pid, socket.socket(fileno=fds[0]), uid=self.uid)
        if self.mode is SandboxMode.UID and config.get("scratch"):  # its files are on the host's disk: bound them
            limit = int({**DEFAULT_LIMITS, **config.get("limits", {})}["tmp_bytes"])
            child.watch = DiskWatch(Path(config["scratch"]) / "home", limit, child.stop)
        return child

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Closing the control socket makes the zygote clean up (kill its sandbox uid) and exit; else it is killed."""
        finish_closing(block=True)  # its closed children's middle processes first, while it can still reap them
        launcher.stop(self.process, self.control, terminate=False, grace=5)


def _is_namespace_init(pid: int) -> bool:
    """Is ``pid`` PID 1 of a nested PID namespace (a sandbox), and not some unrelated process that reused a pid?"""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("NSpid:"):
                    ids = line.split()[1:]
                    return len(ids) > 1 and ids[-1] == "1"
    except OSError:
        pass
    return False


_closing: list[tuple["Child", float]] = []


def finish_closing(block: bool = False) -> None:
    """The middle processes of closed children (``Child.close`` does not wait for them): each that is gone, or
    past its deadline, gets the kill the original wait ended with; the others are left for the next call,
    unless ``block`` (at exit)."""
    still = []
    for child, deadline in _closing:
        while block and child._middle_alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        if child._middle_alive() and time.monotonic() < deadline:
            still.append((child, deadline))
        else:
            child._kill_middle()
    _closing[:] = still


atexit.register(finish_closing, True)


@dataclass
class Child:
    pid: int
    sock: socket.socket
    uid: int | None = None  # the slot uid it runs as, where its mode gives each slot one
    watch: DiskWatch | None = None
    dead: str | None = None
    output: list[str] = field(default_factory=list)

    def request(self, message: dict, *, timeout: float, max_bytes: int = wire.DEFAULT_MAX_BYTES,
                handle: Callable[[dict], Any] | None = None):
        """Send one request and return its value, raising StudentRaised or SandboxError.

        ``handle`` turns each numbered handle in the value into the caller's proxy while the answer is
        decoded (``grader.wire.decode_trusted``), instead of in a second walk over it.
        """
        if self.dead:
            raise SandboxCrashed(self.dead)
        soft = max(0.05, timeout)
        deadline = time.monotonic() + soft + 2.0  # the child's own alarm fires first; this is the hard stop
        try:
            if message.get("op") == Op.DESCRIBE:
                handle = None  # a description is verified as plain data (below); it holds no handles
            if wire.meter is None:
                wire.send(self.sock, {**message, "timeout": soft})
                reply = wire.recv_trusted(self.sock, deadline=deadline, max_bytes=max_bytes, handle=handle)
            else:
                reply = self._metered({**message, "timeout": soft}, deadline, max_bytes, wire.meter, handle)
        except wire.PeerTimeout:
            self.kill(_("your code did not finish within {seconds:g} s and was stopped", seconds=soft))
            raise SandboxTimeout(self.dead) from None
        except (wire.PeerGone, BrokenPipeError, ConnectionResetError):
            self.kill(_("your code ended the grading process (sys.exit, os._exit, a crash, "
                        "or more memory than allowed)"))
            raise SandboxCrashed(self.dead) from None
        except wire.WireError as err:
            self.kill(_("your code sent back something that is not plain data: {error}", error=err))
            raise SandboxCrashed(self.dead) from None
        if isinstance(reply, dict) and "setup_failed" in reply:
            self.kill(_("the grader could not set up the sandbox: {why}", why=reply['setup_failed']))
            raise SandboxCrashed(self.dead)
        if not isinstance(reply, dict) or "ok" not in reply:
            self.kill(_("your code sent back a malformed answer"))
            raise SandboxCrashed(self.dead)
        if reply.get("output"):
            self.output.append(str(reply["output"])[:MAX_OUTPUT_CHARS])
            while sum(map(len, self.output)) > 4 * MAX_OUTPUT_CHARS and len(self.output) > 1:
                self.output.pop(0)
        if not reply["ok"] and "timeout" in reply:
            raise StudentTimeout(soft)
        if reply["ok"]:
            value = reply.get("value")
            if message.get("op") == Op.DESCRIBE:
                from grader.sandbox.describe import InconsistentDescription, from_wire, verify

                try:
                    value = from_wire(value)
                    verify(value)
                except InconsistentDescription as err:
                    raise InconsistentAnswer(str(err)) from None
            return value
        error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
        mro = error.get("mro") if isinstance(error.get("mro"), list) else []
        raise StudentRaised(str(error.get("type", "Exception"))[:200], [str(m)[:200] for m in mro[:64]],
                            str(error.get("message", ""))[:MAX_MESSAGE_CHARS],
                            str(error.get("traceback", ""))[:MAX_MESSAGE_CHARS])

    def _metered(self, message: dict, deadline: float, max_bytes: int, meter: wire.Meter, handle):
        """``request``'s round trip, timed part by part into ``meter`` (profiling only)."""
        clock, cpu = time.perf_counter, time.thread_time
        started, cpu_started = clock(), cpu()
        size = wire.send(self.sock, {**message, "meter": True})  # the child reports its CPU time (Meter)
        sent, cpu_sent = clock(), cpu()
        frame = wire.recv_raw(self.sock, deadline=deadline, max_bytes=max_bytes)
        received, cpu_received = clock(), cpu()
        try:
            reply = wire.decode_trusted(frame, max_bytes, handle=handle)
            if isinstance(reply, dict):
                meter.add_child_cpu(message.get("op"), reply.get("cpu"))
            return reply
        finally:
            meter.requests += 1
            meter.bytes_sent += size
            meter.bytes_received += len(frame) + wire.HEADER.size
            meter.wait_s += received - sent
            meter.wire_s += (sent - started) + (clock() - received)
            meter.wire_cpu_s += (cpu_sent - cpu_started) + (cpu() - cpu_received)

    def stop(self, reason: str) -> None:
        """Kill the child's processes, from any thread; the pending request then fails with ``reason``."""
        if not self.dead:
            self.dead = reason
        self._kill_processes()

    def kill(self, reason: str = "stopped by the grader") -> None:
        """Kill the child's PID 1 first (the kernel then ends its whole PID namespace), then the process group,
        then every process of its slot uid.

        PID 1 is killed by its host pid, not only through its death signal or its
        process group: student code can clear the one and leave the other.
        """
        if not self.dead:
            self.dead = reason
        if self.watch is not None:
            self.watch.stop()
        self._kill_processes(wait=reason != "finished")
        try:
            self.sock.close()
        except OSError:
            pass

    def _kill_processes(self, wait: bool = True) -> None:
        """PID 1, then the middle process and its group, then the slot uid.

        Without ``wait`` (a child that finished its work) the middle process, which reaps PID 1 and then
        exits by itself, is not waited for here: ``finish_closing`` (at the next fork, at exit) kills it if
        it is still there after its second. Everything of the student's (PID 1's namespace, the slot uid)
        is killed now either way.
        """
        inits = [pid for pid in sandbox_pid_of(self.pid) if _is_namespace_init(pid)]
        for pid in inits:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 1.0
        if inits and not wait:
            _closing.append((self, deadline))
        else:
            if inits:  # let the middle process reap PID 1 and exit by itself: killed first, PID 1 would be a zombie
                while self._middle_alive() and time.monotonic() < deadline:
                    time.sleep(0.002)
            self._kill_middle()
        if self.uid is not None:  # without a PID namespace (the uid sandbox) a daemon escapes both: not its uid
            kill_uid(self.uid)

    def _middle_alive(self) -> bool:
        return os.path.exists(f"/proc/{self.pid}/task")

    def _kill_middle(self) -> None:
        for target in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                target()

    def close(self) -> None:
        if not self.dead:
            try:
                wire.send(self.sock, wire.request(Op.EXIT))
            except OSError:
                pass
        self.kill("finished")
