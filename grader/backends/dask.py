"""Grading on a Dask cluster (``--cluster ADDRESS`` or ``--cluster local:N``): the same units, on many machines.

Each task carries one notebook's bytes and its assignment id, so workers need
no access to ``SUBMISSIONS``; the worker writes them to a private temporary
folder and calls ``grader.unit.grade_unit``, exactly as the local pool does.
Results come back to the coordinator, the only writer of ``grades/``.

Workers are admitted by ``KitPlugin`` before they get any work: its setup
(on the worker's event-loop thread, never a task thread: the zygote's
parent-death signal follows the thread that started it) hashes the worker's
own kit, starts its zygote with the sandbox the coordinator asked for, and
applies ``refusal``. An admitted worker gains the resource ``cnn-grader-<kit
hash>`` that every task requires; a refused one never does, and the
coordinator prints why, naming the worker and both hashes.

Faults are Dask's own: a worker that dies mid-unit has its unit rescheduled
elsewhere; a unit that kills ``ALLOWED_FAILURES + 1`` workers ends as
``KilledWorker`` and is recorded as a grader failure; a lost scheduler cancels
every future, and the run stops with what it has recorded.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import queue
import shutil
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence
from urllib.parse import urlsplit

from distributed.diagnostics.plugin import WorkerPlugin

from grader.backends import ClusterError, Record, complete
from grader.backends.kit import KitHash, kit_hash

if TYPE_CHECKING:
    from distributed import Client, Future
    from rich.console import Console

    from grader.progress import RunProgress
    from grader.results import UnitResult
    from grader.run import Unit
    from grader.unit import Settings

logger = logging.getLogger(__name__)

TOPIC = "cnn-grader"  # the workers' admission reports, as Dask events
PLUGIN_NAME = "cnn-grader-kit"
ALLOWED_FAILURES = 1  # a unit may take one worker down with it; the second death ends it as KilledWorker
# Sandbox modes in which a student's process can open network connections (grader/sandbox/modes.py): such a
# process could reach the scheduler or a worker and, over plain tcp://, have pickles run in a trusted process.
NETWORK_OPEN_MODES = frozenset({"limits", "none"})


@dataclass(frozen=True)
class Admission:
    """What the coordinator requires of a worker; carried to every worker inside ``KitPlugin``."""

    kit: dict[str, str]  # the coordinator's KitHash.parts
    sandbox: str = "auto"  # CNN_GRADER_SANDBOX as the coordinator has it

    @property
    def resource(self) -> str:
        return f"cnn-grader-{KitHash(self.kit).digest}"


def is_local_address(address: str) -> bool:
    """Does this Dask address stay on this machine (loopback, or Dask's in-process transport)?"""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme == "inproc":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mode_name(mode) -> str:
    return str(getattr(mode, "value", mode))


def refusal(admission: Admission, worker: str, report: dict) -> str | None:
    """Why ``worker`` may not grade for this coordinator, or None. Pure: the plugin and the tests both call it.

    ``report``: ``{"kit": {part: hash}, "mode": sandbox mode or None, "error": why the zygote failed or None}``.
    """
    ours, theirs = KitHash(admission.kit), KitHash(report.get("kit") or {})
    if ours.digest != theirs.digest:
        parts = ", ".join(theirs.differences(ours))
        return (f"worker {worker} refused: its kit differs from the coordinator's in {parts} "
                f"(worker's kit hash {theirs.digest}, coordinator's {ours.digest}); "
                f"install the same checkout on the worker")
    if report.get("error"):
        return f"worker {worker} refused: it cannot build the sandbox asked for ({admission.sandbox}): {report['error']}"
    mode = _mode_name(report.get("mode"))
    if admission.sandbox not in ("", "auto") and mode != admission.sandbox:
        return (f"worker {worker} refused: its sandbox is {mode!r}, the coordinator asked for "
                f"{admission.sandbox!r} (CNN_GRADER_SANDBOX)")
    if not is_local_address(worker):
        if urlsplit(worker).scheme != "tls":
            return (f"worker {worker} refused: it is on another machine and not reached over tls:// "
                    f"(Dask's tcp:// is unauthenticated and carries pickles)")
        if mode in NETWORK_OPEN_MODES:
            return (f"worker {worker} refused: its sandbox ({mode}) leaves the network open, so a student's "
                    f"code could reach the cluster; give the worker node root or user namespaces")
    return None


_warmed_up = False


# What a grading worker's event loop does beside its work, slowed or paused while the kit's plugin is on it. A unit
# spends most of its time in Python in the worker's task thread (pytest, the hidden tests' trusted side, the wire),
# so every wake-up of the event loop takes the GIL from it. Measured on 2 cores (bench/cluster.py prints the
# comparison with the local pool):
# - Dask's statistical profiler (the dashboard's "Profile" page) samples every thread's stack 100 times a second:
#   a worker's event loop used 2.0-2.4 s of CPU in a 54-unit run with it, 0.7 s without, and the worker's time per
#   unit fell by ~5%;
# - the event loop's tick (distributed.admin.tick.interval, 20 ms) wakes it 50 times a second only to measure its
#   own lag: 21 ms of CPU per second on an idle worker, 5 ms at 500 ms, and the lag is still logged past
#   distributed.admin.tick.limit (3 s).
PAUSED_CALLBACKS = ("profile", "profile-cycle")
TICK_INTERVAL_MS = 500


def quieten(worker) -> Callable[[], None]:
    """Pause the sampling profiler and slow the tick of a grading worker; returns what undoes it (at teardown)."""
    paused = [worker.periodic_callbacks[name] for name in PAUSED_CALLBACKS
              if name in worker.periodic_callbacks and worker.periodic_callbacks[name].is_running()]
    for callback in paused:
        callback.stop()
    tick = worker.periodic_callbacks.get("tick")
    tick_ms = tick.callback_time if tick is not None else None
    if tick is not None:
        tick.callback_time = max(tick_ms, TICK_INTERVAL_MS)  # tornado reads it when it schedules the next one

    def undo() -> None:
        for callback in paused:
            callback.start()
        if tick is not None:
            tick.callback_time = tick_ms
    return undo


class KitPlugin(WorkerPlugin):
    """Admits a worker (same kit, the sandbox asked for) and starts its zygote, before it gets any work."""

    name = PLUGIN_NAME

    def __init__(self, admission: Admission):
        self.admission = admission
        self.admitted = False
        self.undo_quieten: Callable[[], None] | None = None

    def _prepare(self) -> dict:
        """Hash this worker's kit; if it matches, start the zygote here (this thread outlives every task)."""
        report: dict = {"kit": kit_hash().parts, "mode": None, "error": None, "pid": os.getpid(),
                        "host": os.uname().nodename}
        if KitHash(report["kit"]).digest != KitHash(self.admission.kit).digest:
            return report  # never start a zygote for a kit that may not grade
        from grader.sandbox.modes import SANDBOX_MODE_VARIABLE
        from grader.sandbox.zygote import warm_up
        from grader import unit

        if self.admission.sandbox not in ("", "auto"):
            os.environ[SANDBOX_MODE_VARIABLE] = self.admission.sandbox  # a restarted zygote asks for the same
        global _warmed_up
        try:
            if not _warmed_up:  # once per process: torch refuses to set its thread counts twice
                warm_up()  # one torch thread in this trusted process, as in the local pool's workers
                _warmed_up = True
            report["mode"] = _mode_name(unit.zygote().mode)
            report["description"] = unit.zygote().description
        except Exception as err:  # the sandbox asked for cannot be built here
            report["error"] = f"{type(err).__name__}: {err}"
        return report

    async def setup(self, worker) -> None:
        from distributed.core import Status

        report = self._prepare()
        report["worker"] = worker.address
        report["refused"] = refusal(self.admission, worker.address, report)
        if report["refused"] is None:
            self.undo_quieten = quieten(worker)
            await worker.set_resources(**{self.admission.resource: 1})
            self.admitted = True
            if worker.status == Status.running:  # the scheduler re-offers waiting tasks on a change to running
                worker.status = Status.paused
                worker.status = Status.running
        else:
            logger.error(report["refused"])
        worker.log_event(TOPIC, report)

    async def teardown(self, worker) -> None:
        from grader import unit

        if self.admitted:
            self.admitted = False
            await worker.set_resources(**{self.admission.resource: 0})
        if self.undo_quieten is not None:  # a standing cluster's worker gets its profiler and tick back
            self.undo_quieten()
            self.undo_quieten = None
        if unit._zygote is not None:
            unit._zygote.close()
            unit._zygote = None


def grade_task(name: str, data: bytes, assignment_id: str, student_id: str, settings: "Settings") -> "UnitResult":
    """The unit on a worker: the notebook's bytes in a private folder, then the same grade_unit as everywhere."""
    from distributed import get_worker

    from grader.outputs import with_page
    from grader.unit import grade_unit

    plugin = get_worker().plugins.get(PLUGIN_NAME)
    if not getattr(plugin, "admitted", False):  # the resource gate makes this unreachable; never grade unvetted
        raise RuntimeError(f"worker {get_worker().address} was not admitted to grade")
    folder = Path(tempfile.mkdtemp(prefix="cnn-unit-"))  # mode 0700: no other uid reads it
    try:
        path = folder / name
        path.write_bytes(data)
        return with_page(grade_unit(path, assignment_id, student_id, settings))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ships(unit: "Unit", settings: "Settings") -> bool:
    """Can the notebook travel as bytes? Links, missing files and oversized ones are refused by grade_unit's
    reader before any code runs, so the coordinator answers those itself, with the same message."""
    path = unit.path
    return (path is not None and not path.is_symlink() and path.is_file()
            and path.stat().st_size <= settings.max_file_bytes)


@dataclass
class DaskBackend:
    """Grades on the Dask scheduler at ``address`` (``tcp://``, ``tls://``), or on ``local:N``: a LocalCluster
    of N worker processes with one thread each (a pytest session is not thread-safe)."""

    address: str
    console: "Console"
    task: Callable = grade_task
    wait_for_workers: float = 300.0  # seconds to wait for a first admitted worker (batch jobs start slowly)
    in_flight_per_worker: int = 2
    client: "Client | None" = None
    cluster: object | None = None
    admitted: dict[str, dict] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    _events: "queue.Queue" = field(default_factory=queue.Queue)
    _reported: set = field(default_factory=set)

    # -- connecting and admitting ---------------------------------------------------------------------------
    def check(self) -> None:
        from grader.sandbox.modes import requested_mode

        self.admission = Admission(kit_hash().parts, requested_mode())
        self._connect()
        self.client.subscribe_topic(TOPIC, lambda event: self._events.put(("worker", event[1])))
        present = set(self.client.scheduler_info(n_workers=-1)["workers"])
        responses = self.client.register_plugin(KitPlugin(self.admission), name=PLUGIN_NAME) or {}
        for worker, response in responses.items():
            if isinstance(response, dict) and response.get("status") == "error":
                self._refuse(worker, f"worker {worker} refused: its admission failed: "
                                     f"{response.get('exception_text') or response.get('text') or response}")
        deadline = time.monotonic() + self.wait_for_workers
        if not present:
            self.console.print(f"waiting up to {self.wait_for_workers:g} s for workers to join {self.address}")
        while time.monotonic() < deadline:
            if present and present <= self._reported and (self.admitted or len(self.refused) >= len(present)):
                break  # every worker present has answered (later ones are admitted as they join)
            try:
                kind, item = self._events.get(timeout=0.5)
            except queue.Empty:
                present |= set(self.client.scheduler_info(n_workers=-1)["workers"])
                continue
            if kind == "worker":
                self._on_report(item)
        if not self.admitted:
            self.close()
            refusals = "; ".join(self.refused.values()) or "no worker joined"
            raise ClusterError(f"no worker of {self.address} may grade this run: {refusals}")

    def _connect(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        if self.address.startswith("local:"):
            try:
                count = int(self.address.split(":", 1)[1])
            except ValueError:
                count = 0
            if count < 1:
                raise ClusterError(f"--cluster {self.address}: expected local:N with N ≥ 1 worker processes")
            # The scheduler, the nannies and the client share this process with the recorder: their event loops
            # tick at the workers' slower pace too (43 → 14 ms of CPU per second here, idle).
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                                  "distributed.admin.tick.interval": f"{TICK_INTERVAL_MS}ms"}):
                self.cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                                            dashboard_address=None, memory_limit=0, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            return
        scheme = urlsplit(self.address).scheme if "://" in self.address else "tcp"
        if scheme != "tls" and not is_local_address(self.address):
            raise ClusterError(f"--cluster {self.address}: a cluster beyond this machine must be reached over "
                               f"tls:// with certificates (Dask's tcp:// is unauthenticated and carries pickles); "
                               f"see the README, 'Grading on a cluster (Dask)'")
        security = None
        if scheme == "tls":
            from distributed.security import Security

            security = Security(require_encryption=True)  # files from DASK_DISTRIBUTED__COMM__TLS__* / config
            if not (security.tls_ca_file and security.tls_client_cert):
                raise ClusterError(f"--cluster {self.address}: tls:// needs a CA and a client certificate: set "
                                   f"DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ..._CLIENT__CERT and ..._CLIENT__KEY")
        try:
            self.client = Client(self.address, security=security, timeout=30)
        except (OSError, TimeoutError) as err:
            raise ClusterError(f"--cluster {self.address}: cannot reach the scheduler: {err}") from None
        # The scheduler's own policy for units that kill workers (a kit-run scheduler; README).
        self.client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures",
                                                                    ALLOWED_FAILURES))

    def _on_report(self, report: dict) -> None:
        worker = report.get("worker", "?")
        self._reported.add(worker)
        if report.get("refused"):
            self._refuse(worker, report["refused"])
            return
        # The worker's verdict is its own code's; the coordinator checks the evidence again with its own.
        why = refusal(self.admission, worker, report)
        if why is not None:
            self._refuse(worker, why)
            self.client.retire_workers(workers=[worker], close_workers=True)
            return
        self.refused.pop(worker, None)
        if worker not in self.admitted:
            self.admitted[worker] = report
            self.console.print(f"worker {worker} ({report.get('host')}, pid {report.get('pid')}) admitted: "
                               f"kit {KitHash(report['kit']).digest}, sandbox {report.get('description') or report.get('mode')}",
                               highlight=False, soft_wrap=True)

    def _refuse(self, worker: str, why: str) -> None:
        self._reported.add(worker)
        self.admitted.pop(worker, None)
        if self.refused.get(worker) != why:
            self.refused[worker] = why
            self.console.print(f"[bold red]refused:[/bold red] {why}", highlight=False, soft_wrap=True)

    # -- grading ---------------------------------------------------------------------------------------------
    def grade(self, units: Sequence["Unit"], settings: "Settings", record: Record, progress: "RunProgress") -> None:
        from grader.run import _not_graded
        from grader.unit import grade_unit

        def deliver(unit: "Unit", result: "UnitResult") -> None:
            record(unit, result)
            progress.advance()

        run = uuid.uuid4().hex[:12]  # keys unique on a scheduler that outlives runs
        waiting = deque(enumerate(units))
        self._in_flight: dict[str, tuple["Future", "Unit"]] = {}
        self._retries: dict[int, int] = {}
        lost_since: float | None = None
        try:
            while waiting or self._in_flight:
                budget = max(1, len(self.admitted)) * self.in_flight_per_worker
                batch_to_submit: list[tuple["Unit", str]] = []
                while waiting and len(self._in_flight) + len(batch_to_submit) < budget:
                    index, unit = waiting.popleft()
                    if unit.path is None:
                        deliver(unit, _not_graded(unit, "; ".join(unit.problems) or "no notebook found"))
                    elif not _ships(unit, settings):
                        deliver(unit, complete(unit, grade_unit(unit.path, unit.assignment, unit.student_id,
                                                                settings)))
                    else:
                        batch_to_submit.append((unit, f"grade-{run}-{index}"))
                self._submit(batch_to_submit, settings)
                try:
                    events = [self._events.get(timeout=1.0)]
                except queue.Empty:
                    if self.client.status != "running":
                        lost_since = lost_since or time.monotonic()
                        if time.monotonic() - lost_since > 10:
                            raise ClusterError(f"lost the scheduler {self.address}")
                    continue
                while True:  # everything that is ready now: its results fetched in one round trip
                    try:
                        events.append(self._events.get_nowait())
                    except queue.Empty:
                        break
                done = [self._in_flight.pop(item) for kind, item in events
                        if kind == "done" and item in self._in_flight]  # else recorded already: never twice
                finished = [(future, unit) for future, unit in done if future.status == "finished"]
                try:  # one round trip for every result that is ready, not one each
                    values = self.client.gather([future for future, _ in finished]) if finished else []
                except Exception as err:  # the results went with the scheduler or a worker: grade them again
                    if self.client.status != "running":
                        raise ClusterError(f"lost the scheduler {self.address}") from None
                    for future, unit in finished:
                        self._retry(future, unit, settings, err, deliver)
                    finished, values = [], []
                for kind, item in events:
                    if kind == "worker":
                        self._on_report(item)
                for (future, unit), value in zip(finished, values):
                    deliver(unit, complete(unit, value))
                for future, unit in done:
                    if future.status != "finished":
                        self._finish(future, unit, deliver, progress)
        except ClusterError as err:
            recorded = progress.done
            raise ClusterError(f"{err}: the run stopped; the {recorded} units recorded are kept and the next "
                               f"run grades the other {len(units) - recorded}") from None

    def _submit(self, units: list[tuple["Unit", str]], settings: "Settings") -> None:
        """Hand units to the scheduler, all in one message (one ``client.map``): submitting is the coordinator's
        largest cost per unit after recording."""
        if not units:
            return
        futures = self.client.map(self.task, [u.path.name for u, _ in units], [u.path.read_bytes() for u, _ in units],
                                  [u.assignment for u, _ in units], [u.student_id for u, _ in units],
                                  [settings] * len(units), key=[key for _, key in units], pure=False,
                                  resources={self.admission.resource: 1})
        for future, (unit, _) in zip(futures, units):
            self._in_flight[future.key] = (future, unit)
            future.add_done_callback(lambda f: self._events.put(("done", f.key)))

    def _retry(self, future: "Future", unit: "Unit", settings: "Settings", err: Exception, deliver: Record) -> None:
        """A finished unit whose result could not be fetched (its worker left with it): graded once more."""
        from grader.run import _grader_failure

        self._retries[id(unit)] = self._retries.get(id(unit), 0) + 1
        if self._retries[id(unit)] > 1:
            deliver(unit, _grader_failure(unit, f"its result could not be fetched from the cluster: {err}"))
            return
        logger.warning("%s/%s: result lost (%s); grading it again", unit.student_id, unit.assignment, err)
        self._submit([(unit, f"{future.key}-again")], settings)

    def _finish(self, future: "Future", unit: "Unit", deliver: Record, progress: "RunProgress") -> None:
        from distributed import KilledWorker

        from grader.run import _grader_failure

        if future.status == "finished":
            deliver(unit, complete(unit, future.result()))
        elif future.status == "error":
            error = future.exception()
            if isinstance(error, KilledWorker):
                why = (f"{unit.student_id}/{unit.assignment} took down {ALLOWED_FAILURES + 1} grader workers in a "
                       f"row (Dask KilledWorker)")
                progress.note(f"[bold red]grader failure:[/bold red] {why}")
                deliver(unit, _grader_failure(unit, why))
            else:  # a grader bug must not lose the rest of the class
                deliver(unit, _grader_failure(unit, f"internal grader error: {type(error).__name__}: {error}"))
        else:  # cancelled: the client lost the scheduler, which cancels every future
            raise ClusterError(f"lost the scheduler {self.address} ({unit.student_id}/{unit.assignment} was "
                               f"{future.status})")

    def close(self) -> None:
        if self.client is not None:
            if self.cluster is None:
                try:
                    self.client.unregister_worker_plugin(PLUGIN_NAME)  # closes the zygotes of a standing cluster
                except Exception:  # a lost scheduler: nothing to tidy
                    pass
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
