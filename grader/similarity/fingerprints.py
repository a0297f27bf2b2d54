"""Winnowed k-gram fingerprints of each exercise's own code (Schleimer, Wilkerson, Aiken 2003).

A fingerprint is a hash of K consecutive normalised tokens; winnowing keeps the minimum hash of every
window of W consecutive k-grams, so any shared run of at least W + K - 1 tokens is guaranteed to leave a
common fingerprint, while the stored set stays small. Computed once per unit at grading time
(``grader.unit.grade_unit`` stores ``fingerprint_cells``' answer in the result under ``"fingerprints"``).
"""
from __future__ import annotations

import base64
import hashlib
import struct
from collections import deque
from functools import lru_cache
from pathlib import Path

from grader.similarity.tokens import Token, normalised_tokens, stub_lines

FINGERPRINT_VERSION = 2
K = 10  # tokens per k-gram: about one line of normalised code ("v = v . v ( v , v )" is 10)
W = 8   # window: every shared run of W + K - 1 = 17 tokens (about two lines) is found
MAX_CODE_CHARS = 20_000  # code kept per cell for the side-by-side view


_RECORD = struct.Struct("<QHH")  # hash, first line, last line


def pack_prints(prints) -> str:
    """Fingerprints as one base64 string of (hash, first line, last line) records: a class of 2,000 reads
    its results from the gradebook several times faster than with lists of numbers in the JSON."""
    raw = b"".join(_RECORD.pack(h, min(a, 0xFFFF), min(b, 0xFFFF)) for h, a, b in prints)
    return base64.b64encode(raw).decode("ascii")


def unpack_prints(value) -> list[tuple[int, int, int]]:
    """The (hash, first line, last line) records of a cell, from pack_prints' string (or a plain list)."""
    if isinstance(value, list):
        return [tuple(p) for p in value]
    return list(_RECORD.iter_unpack(base64.b64decode(value)))


def _hash(gram: list[str]) -> int:
    """A stable 53-bit hash (the same in every process and in JavaScript's numbers)."""
    digest = hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 11


def kgrams(tokens: list[Token], k: int = K) -> list[tuple[int, int, int]]:
    """(hash, first line, last line) of every k-gram."""
    texts = [t.text for t in tokens]
    return [(_hash(texts[i:i + k]), tokens[i].line, tokens[i + k - 1].line) for i in range(len(tokens) - k + 1)]


def winnow(grams: list[tuple[int, int, int]], w: int = W) -> list[tuple[int, int, int]]:
    """Robust winnowing: the rightmost minimal hash of each window, each selected position kept once.

    One pass with a deque of candidates (positions whose hashes rise strictly from front to back), not a
    ``min`` over every window: the same selection, six times faster for a few thousand k-grams."""
    if len(grams) <= w:
        return [min(grams, key=lambda g: g[0])] if grams else []
    chosen: list[tuple[int, int, int]] = []
    candidates: deque[int] = deque()
    last = -1
    for i, (value, _, _) in enumerate(grams):
        while candidates and grams[candidates[-1]][0] >= value:
            candidates.pop()  # a later hash no larger wins every window both are in (the rightmost minimum)
        candidates.append(i)
        if candidates[0] <= i - w:
            candidates.popleft()  # slid out of the window
        if i >= w - 1 and candidates[0] != last:
            last = candidates[0]
            chosen.append(grams[last])
    return chosen


def fingerprint_source(source: str, stub: str = "") -> dict:
    """The fingerprints of one exercise's code, with the stub's lines (and any k-gram of the stub) left out."""
    skip = stub_lines(source, stub) if stub else set()
    base = _stub_hashes(stub) if stub else frozenset()
    tokens = normalised_tokens(source, skip)
    prints = [(h, a, b) for h, a, b in winnow(kgrams(tokens)) if h not in base]
    return {"code": source[:MAX_CODE_CHARS], "stub_lines": sorted(skip), "tokens": len(tokens),
            "prints": pack_prints(prints)}


@lru_cache(maxsize=256)
def _stub_hashes(stub: str) -> frozenset[int]:
    """The k-gram hashes of a released cell: the same for every student, so tokenised once per worker."""
    return frozenset(h for h, _, _ in kgrams(normalised_tokens(stub)))


@lru_cache(maxsize=32)
def _release_stubs(path: str, mtime_ns: int) -> dict[str, str]:
    from grader.notebook import read_cells

    stubs: dict[str, str] = {}
    for cell in read_cells(Path(path)):
        if cell.kind == "solution" and cell.grade_id:
            stubs[cell.grade_id] = stubs.get(cell.grade_id, "") + cell.source
    return stubs


def release_stubs(release_notebook: Path) -> dict[str, str]:
    """grade_id → the released cell's text (the base file), cached while the release is unchanged."""
    try:
        return _release_stubs(str(release_notebook), release_notebook.stat().st_mtime_ns)
    except (OSError, ValueError):
        return {}


def fingerprint_cells(cells, stubs: dict[str, str]) -> dict:
    """Fingerprints of every solution cell of a submission (grader.notebook.Cell), keyed by grade_id.

    Duplicated cells are joined (all copies run); cells the student added are not exercises and are left out.
    """
    sources: dict[str, str] = {}
    for cell in cells:
        if cell.kind == "solution" and cell.grade_id:
            sources[cell.grade_id] = (sources[cell.grade_id] + "\n" + cell.source) if cell.grade_id in sources \
                else cell.source
    return {"version": FINGERPRINT_VERSION, "k": K, "w": W,
            "cells": {gid: fingerprint_source(src, stubs.get(gid, "")) for gid, src in sources.items()}}


def fingerprint_unit(cells, release_notebook: Path) -> dict | None:
    """The hook grade_unit calls: fingerprints for the result, or None (never an error: they are not a grade)."""
    try:
        return fingerprint_cells(cells, release_stubs(release_notebook))
    except Exception:  # noqa: BLE001 -- a fingerprint bug must never cost a student their grade
        return None
