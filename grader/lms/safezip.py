"""Read a bulk-download zip without trusting its paths: nothing is ever extracted by the name it carries.

An entry's name is only parsed (split into parts, checked); where its bytes go
is decided by the collector from the student id and the assignment alone.
Written by hand because ``zipfile.extract`` sanitises names silently (it drops
``..`` and leading slashes), while a TA must hear about such an entry.
"""
from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_ENTRY_BYTES = 50 * 1024 * 1024
"""A submitted file larger than this is reported, not read (the grader refuses notebooks over 20 MiB anyway)."""


@dataclass(frozen=True)
class Entry:
    name: str  # the entry's name as stored in the zip (for the report)
    parts: tuple[str, ...]  # its path, split; checked safe
    info: zipfile.ZipInfo


def _unsafe(name: str) -> str:
    """Why this entry name cannot be trusted as a relative path, or ''."""
    if "\x00" in name:
        return "a NUL byte in the name"
    if "\\" in name:
        return "a backslash in the name"
    path = PurePosixPath(name)
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if any(part == ".." for part in path.parts):
        return "a '..' path component"
    return ""


def entries(zip_path: Path) -> tuple[list[Entry], list[str]]:
    """The zip's regular files, and one line per entry that was refused (unsafe name, link, oversized)."""
    kept: list[Entry] = []
    refused: list[str] = []
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            why = _unsafe(info.filename)
            mode = info.external_attr >> 16
            if not why and stat.S_ISLNK(mode):
                why = "a symbolic link"
            if not why and info.file_size > MAX_ENTRY_BYTES:
                why = f"{info.file_size / 2**20:.0f} MiB, more than the {MAX_ENTRY_BYTES // 2**20} MiB allowed"
            if why:
                refused.append(f"{info.filename!r}: skipped, {why}")
                continue
            parts = tuple(p for p in PurePosixPath(info.filename).parts if p not in ("", "."))
            if parts and not parts[0].startswith("__MACOSX") and not parts[-1].startswith("."):
                kept.append(Entry(info.filename, parts, info))
    return kept, refused


def read(zip_path: Path, entry: Entry) -> bytes:
    """The entry's bytes, at most ``MAX_ENTRY_BYTES`` whatever its header claims."""
    with zipfile.ZipFile(zip_path) as archive, archive.open(entry.info) as handle:
        data = handle.read(MAX_ENTRY_BYTES + 1)
    if len(data) > MAX_ENTRY_BYTES:
        raise ValueError(f"{entry.name}: larger than {MAX_ENTRY_BYTES // 2**20} MiB once unpacked")
    return data
