"""The kit's identity, by content: what a worker must share with the coordinator to grade the same way.

Three parts decide a grade: the hidden tests (``autograde_tests/``), the
reference solutions (``solutions/``) and the grader's own code and message
catalogs (``grader/``); the versions of the libraries that compute (torch,
numpy, pytest; jinja2 and markupsafe, which render the feedback pages) are a
fourth. Each part is hashed separately so a refusal can say which one differs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from grader.course import project_root

PARTS = ("autograde_tests", "solutions", "grader")
PACKAGES = ("torch", "numpy", "pytest", "jinja2", "markupsafe")  # the last two: workers render feedback pages
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class KitHash:
    parts: dict[str, str]

    @property
    def digest(self) -> str:
        combined = hashlib.sha256()
        for name in sorted(self.parts):
            combined.update(f"{name}={self.parts[name]};".encode())
        return combined.hexdigest()[:16]

    def differences(self, other: "KitHash") -> list[str]:
        """The parts whose hashes differ (a part missing on one side counts as different)."""
        return [name for name in sorted(set(self.parts) | set(other.parts))
                if self.parts.get(name) != other.parts.get(name)]


def _hash_tree(folder: Path) -> str:
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if any(p in _SKIP_DIRS or p.startswith(".") for p in relative.parts) or path.suffix == ".pyc":
                continue
            if path.is_file():
                digest.update(str(relative).encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def kit_hash(root: Path | None = None) -> KitHash:
    """This process's kit: the checkout at ``root`` (default: the one ``grader`` was imported from)."""
    root = root or project_root()
    parts = {name: _hash_tree(root / name) for name in PARTS}
    grader_package = Path(__file__).resolve().parent.parent  # the code this process runs, wherever it lives
    parts["grader"] = _hash_tree(grader_package)
    versions = ";".join(f"{name}={_version(name)}" for name in PACKAGES)
    parts["packages"] = hashlib.sha256(versions.encode()).hexdigest()[:16]
    return KitHash(parts)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"
