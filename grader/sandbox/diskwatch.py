"""A bound on what a ``uid``-sandbox child writes in total: without a private tmpfs its directory is on the host.

``RLIMIT_FSIZE`` bounds each file, not their number; no unprivileged kernel
mechanism bounds a directory (quotas need root and a prepared file system).
So a thread of the worker measures the child's directory a few times a
second and stops the child when it passes the bound: the overshoot is what
a process can write in one interval, and the coordinator's disk survives.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from grader.i18n import _

MAX_ENTRIES = 20_000  # more files than this counts as over the bound (and keeps each measurement cheap)


def usage(directory: Path, limit: int) -> int:
    """Bytes allocated under ``directory`` (sparse files count what they take), up to just past ``limit``."""
    total, entries, todo = 0, 0, [directory]
    while todo and total <= limit:
        try:
            with os.scandir(todo.pop()) as listing:
                for entry in listing:
                    entries += 1
                    if entries > MAX_ENTRIES:
                        return limit + 1
                    info = entry.stat(follow_symlinks=False)
                    total += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(Path(entry.path))
        except OSError:  # not created yet, or removed under us
            continue
    return total


class DiskWatch:
    def __init__(self, directory: Path, limit: int, on_exceeded: Callable[[str], None], every: float = 0.1):
        self.directory, self.limit, self.on_exceeded, self.every = directory, limit, on_exceeded, every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="disk-watch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            if usage(self.directory, self.limit) > self.limit:
                self.on_exceeded(_("your code wrote more than {mib} MiB of files (or more than {entries:,} files) "
                                   "and was stopped", mib=self.limit // 2**20, entries=MAX_ENTRIES))
                return

    def stop(self) -> None:
        self.stopped.set()
