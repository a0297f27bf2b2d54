"""Starting a worker's zygote process, without importing torch here.

A zygote takes about 4 s to start (its own Python, torch, the warm-up); so does the worker that owns it.
``client.Zygote`` starts one and waits for it, so a worker that starts its zygote only when it needs one
pays the two one after the other. Torch-free, this module lets a worker start its zygote first thing
(``launch_early``), before its own imports: on two cores the two start-ups then overlap, and the first
``Zygote()`` adopts the running process (``adopt``) instead of starting another. Gradescope grades one
notebook per container run, so there this is most of the wait a student sees beyond the grading itself.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass

from grader.sandbox.modes import requested_mode


def zygote_environment() -> dict[str, str]:
    """A small, explicit environment: nothing of the grader's own variables leaks to students."""
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
               PYTHONNOUSERSITE="1",
               # big tensors (a 57M-parameter AlexNet) page-fault far less on transparent huge pages
               THP_MEM_ALLOC_ENABLE="1")
    return env


@dataclass
class Launched:
    """A zygote process that has been started; its ready message has not been read yet."""

    process: subprocess.Popen
    control: socket.socket  # the worker's end of the control socket
    requested: str  # the sandbox mode asked for (CNN_GRADER_SANDBOX when it was started)

    def discard(self) -> None:
        """Stop the zygote, which may still be starting up and not yet reading its control socket: SIGTERM, on
        which it removes its slot's cgroups and kills its slot uid's processes before it exits."""
        stop(self.process, self.control, terminate=True, grace=10)
        if self.process.stderr:
            self.process.stderr.close()


def stop(process: subprocess.Popen, control: socket.socket, terminate: bool, grace: float) -> None:
    """Close the control socket (a zygote in its loop then cleans up and exits) and, with ``terminate``, send
    SIGTERM (which it handles the same way anywhere); SIGKILL if it has not exited after ``grace`` seconds."""
    control.close()
    if terminate and process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def launch() -> Launched:
    """Start a zygote in the sandbox mode that ``CNN_GRADER_SANDBOX`` asks for now (``auto`` if unset)."""
    control, theirs = socket.socketpair()
    requested = requested_mode()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.sandbox.zygote", str(theirs.fileno()), requested],
        pass_fds=[theirs.fileno()], env=zygote_environment(), cwd="/",
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    theirs.close()
    return Launched(process, control, requested)


_early: Launched | None = None


def launch_early() -> None:
    """Start this process's zygote now, for the first ``client.Zygote()`` to adopt."""
    global _early
    if _early is None:
        _early = launch()


def adopt() -> Launched | None:
    """The zygote ``launch_early`` started, taken once; None if there is none, or if it no longer fits: the
    sandbox mode asked for has changed since, or the process has exited (a fresh start then reports why)."""
    global _early
    launched, _early = _early, None
    if launched is None:
        return None
    if launched.process.poll() is not None or launched.requested != requested_mode():
        launched.discard()
        return None
    return launched
