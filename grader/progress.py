"""How far a run is: a live bar on a terminal, one line per 10% in a log (CI) where a bar would be noise.

Both backends advance it once per recorded unit; messages printed through
``note`` (and through the same console) appear above the bar.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RunProgress:
    """``with RunProgress(console, total) as progress: ... progress.advance()``."""

    def __init__(self, console: Console, total: int, label: str = "grading"):
        self.console, self.total, self.label = console, total, label
        self.done = 0
        self._started = time.monotonic()
        self._next_tenth = 1
        self._bar: Progress | None = None
        self._task = None

    def __enter__(self) -> "RunProgress":
        self._started = time.monotonic()
        if self.console.is_terminal and self.total:
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(),
                                 TimeElapsedColumn(), console=self.console, transient=False)
            self._task = self._bar.add_task(self.label, total=self.total, rate="")
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    @property
    def rate(self) -> float:
        """Units recorded per second since the start."""
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(self._task, advance=count, rate=f"{self.rate:.2f} units/s")
            return
        crossed = False
        while self.total and self._next_tenth <= 10 and self.done * 10 >= self._next_tenth * self.total:
            self._next_tenth += 1  # one line however many tenths this unit crossed (a class of 3: 33%, 66%, 100%)
            crossed = True
        if crossed:
            self._line()

    def _line(self) -> None:
        rate = self.rate
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        self.console.print(f"{self.label}: {self.done}/{self.total} ({100 * self.done // self.total}%), "
                           f"{rate:.2f} units/s, ETA {_clock(left)}", highlight=False, soft_wrap=True)

    def note(self, message: str) -> None:
        """A line for the TA (a refused worker, a lost scheduler), printed above the bar."""
        self.console.print(message, highlight=False, soft_wrap=True)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
