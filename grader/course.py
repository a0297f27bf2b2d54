"""Where the kit's pieces live, and what each assignment expects (read from its source notebook)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from grader.notebook import read_cells

ASSIGNMENTS = ("alexnet", "vgg", "inception", "resnet", "densenet")


def project_root() -> Path:
    """The kit's checkout: $CNN_KIT_ROOT, else the folder above this package."""
    return Path(os.environ.get("CNN_KIT_ROOT", Path(__file__).resolve().parent.parent))


@dataclass(frozen=True)
class Assignment:
    id: str
    root: Path

    @property
    def source_notebook(self) -> Path:
        return self.root / "solutions" / self.id / f"{self.id}.ipynb"

    @property
    def release_notebook(self) -> Path:
        return self.root / "assignments" / self.id / f"{self.id}.ipynb"

    @property
    def tests(self) -> Path:
        return self.root / "autograde_tests" / f"test_{self.id}.py"

    def solution_ids(self) -> list[str]:
        return _solution_ids(self.source_notebook)

    def tests_hash(self) -> str:
        """Changes whenever the hidden tests, the reference solutions or the grader itself change."""
        digest = hashlib.sha256()
        package = Path(__file__).resolve().parent
        for path in [self.tests, self.source_notebook, *sorted(package.rglob("*.py"))]:
            digest.update(path.name.encode())
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def _solution_ids(path: Path) -> list[str]:
    return [c.grade_id for c in read_cells(path) if c.kind == "solution" and c.grade_id]


def assignment(assignment_id: str, root: Path | None = None) -> Assignment:
    if assignment_id not in ASSIGNMENTS:
        raise KeyError(f"unknown assignment '{assignment_id}' (known: {', '.join(ASSIGNMENTS)})")
    return Assignment(assignment_id, root or project_root())
