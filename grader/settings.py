"""Every default of a grading run in one place: the CLI, the coordinator, a unit and the self-check read them here.

A run's settings travel to each worker with the unit (so a frozen, picklable
dataclass of plain values); ``DEFAULTS`` is what ``python -m grader grade --help``
shows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """What a grading run may spend and where it writes; one instance per run, never changed while it runs."""

    cell_timeout: float = 10.0
    """Seconds a notebook cell may run before it is stopped (the rest of the notebook still runs)."""
    call_timeout: float = 10.0
    """Seconds one call into student code (build, call, forward) may take."""
    submission_budget: float = 300.0
    """Seconds one student × assignment may take in all."""
    workers: int = 0
    """Parallel workers, each with its own zygote; 0 means one per core."""
    out: Path = Path("grades")
    """The output folder: gradebook, grades.csv, results/, feedback/, summary.html."""
    max_file_bytes: int = 100 * 2**20
    """A submitted file larger than this is refused unread: reading it could exhaust the grader's memory."""
    max_source_bytes: int = 2 * 2**20
    """The code the grader would run (sources only: outputs never run) may not exceed this."""
    lang: str = "en"
    """The language of everything written for students ("en" or "ko"); the course file's ``lang`` by default."""
    sandbox: dict[str, Any] = field(default_factory=dict)
    """Extra sandbox configuration (hidden paths, lowered limits), passed to each child as is."""


DEFAULTS = Settings()
