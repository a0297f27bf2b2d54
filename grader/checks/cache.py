"""Values a hidden-test module computes once: per grading run (per kit), or per submission."""
from __future__ import annotations

import weakref

_kit: str | None = None
_caches: "weakref.WeakSet[ResultCache]" = weakref.WeakSet()  # every hidden-test module's cache


def use_kit(digest: str) -> None:
    """The content hash of what grades the next units (``grader.unit`` sets the assignment's ``tests_hash``:
    hidden tests, reference solution, grader code). Run-wide values computed under another hash are dropped,
    so a worker never answers a changed solution or hidden test from its cache."""
    global _kit
    _kit = digest


def current_kit() -> str | None:
    return _kit


def forget_submissions() -> None:
    """Drop every module's per-submission values once a unit is over: its child is gone, and nothing of one
    student's should outlive the unit (a worker freezes its long-lived heap after some units: grader.unit)."""
    for cache in list(_caches):
        cache.student, cache.submission = None, {}


class ResultCache:
    """One per hidden-test module: values computed once per grading run (reference modules and outputs,
    reused for every student, for as long as the kit's hash stays the same) and values computed once per
    submission (a student's model built on meta and shared by several tests), dropped when the next
    submission comes."""

    def __init__(self) -> None:
        self.run: dict = {}
        self.kit = _kit
        self.student = None
        self.submission: dict = {}
        _caches.add(self)

    def once(self, key, build):
        if self.kit != _kit:
            self.run, self.kit = {}, _kit
        if key not in self.run:
            self.run[key] = build()
        return self.run[key]

    def per_submission(self, student, key, build):
        if self.student is not student:
            self.student, self.submission = student, {}
        if key not in self.submission:
            self.submission[key] = build()
        return self.submission[key]
