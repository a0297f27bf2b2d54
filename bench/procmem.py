"""Peak memory of a whole process tree, sampled from /proc (psutil is not a dependency of the kit).

Every 50 ms the sampler sums the resident set sizes of all descendants of the
root pid (found anew every 100 ms; sandboxed children included: they live in
their own PID namespaces, but /proc of the host lists them with their host
pids): ``VmRSS`` in /proc/<pid>/status. A forked child's pages shared with its
zygote count once per process in that sum, so it overstates what the machine
really uses; every 20th sample (once a second: it is costlier to read) also
sums the proportional set size (``Pss`` in /proc/<pid>/smaps_rollup), which
splits shared pages among their sharers.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field

KiB = 1024


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: parse after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    return children


def tree(root: int) -> list[int]:
    children = _children_map()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _field_kib(path: str, key: bytes) -> int:
    try:
        with open(path, "rb") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_bytes(pids: list[int]) -> int:
    return sum(_field_kib(f"/proc/{pid}/status", b"VmRSS:") for pid in pids) * KiB


def pss_bytes(pids: list[int]) -> int:
    return sum(_field_kib(f"/proc/{pid}/smaps_rollup", b"Pss:") for pid in pids) * KiB


@dataclass
class TreeSampler:
    """Samples the tree rooted at ``pid`` on a background thread until stop()."""

    pid: int
    interval: float = 0.05
    pss_every: int = 20
    rescan_every: int = 2
    peak_rss: int = 0
    peak_pss: int = 0
    peak_processes: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _pids: list[int] = field(default_factory=list)

    def start(self) -> "TreeSampler":
        self._thread = threading.Thread(target=self._loop, name="bench-memory", daemon=True)
        self._thread.start()
        return self

    def sample(self) -> None:
        # finding the tree means reading every /proc/<pid>/stat: every other sample is enough
        if self.samples % self.rescan_every == 0 or not self._pids:
            self._pids = tree(self.pid)
        pids = [p for p in self._pids if os.path.exists(f"/proc/{p}")]
        self.peak_rss = max(self.peak_rss, rss_bytes(pids))
        if self.samples % self.pss_every == 0:
            self.peak_pss = max(self.peak_pss, pss_bytes(pids))
        self.peak_processes = max(self.peak_processes, len(pids))
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def as_dict(self) -> dict:
        mib = 1024 * 1024
        return {"peak_rss_mib": round(self.peak_rss / mib, 1), "peak_pss_mib": round(self.peak_pss / mib, 1),
                "peak_processes": self.peak_processes, "samples": self.samples,
                "interval_s": self.interval}


def run_measured(cmd: list[str], *, env: dict, cwd: str, log_path: str, timeout: float) -> tuple[int, float, dict]:
    """Run CMD to completion with its output in LOG_PATH; (exit code, wall seconds, peak memory of its tree)."""
    with open(log_path, "wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        sampler = TreeSampler(process.pid).start()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            code = process.wait()
        finally:
            sampler.stop()
        wall = time.monotonic() - started
    return code, wall, sampler.as_dict()
