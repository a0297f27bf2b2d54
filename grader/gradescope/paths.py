"""Where Gradescope puts things, relocatable for tests and dry runs by one environment variable."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT_VARIABLE = "CNN_AUTOGRADER_ROOT"
"""Stands in for ``/autograder`` (the tests unpack the zip under a temporary folder and set this)."""

DEFAULT_ROOT = "/autograder"
CONFIG_NAME = "gradescope.json"
"""The course's choices, written by the build into the zip's root (``source/gradescope.json``)."""


@dataclass(frozen=True)
class AutograderPaths:
    root: Path

    @classmethod
    def from_env(cls) -> "AutograderPaths":
        return cls(Path(os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT))

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    @property
    def results(self) -> Path:
        return self.results_dir / "results.json"

    @property
    def config(self) -> Path:
        return self.source / CONFIG_NAME
