"""A worker freezes its long-lived heap after its first unit of each assignment (grader.unit._settle_heap_once), so
that Python's full collections stop walking torch, pytest and the cached reference results again and again."""
from __future__ import annotations

import gc
import weakref

from grader import unit
from grader.checks import cache
from grader.unit import grade_unit
from tests.conftest import write_submission


class Cycle:
    """Garbage that only the cycle collector frees."""

    def __init__(self):
        self.me = self


def _collectable(obj) -> bool:
    return any(o is obj for o in gc.get_objects())  # frozen objects are in no generation


def test_a_worker_settles_its_heap_once_per_assignment_after_collecting_garbage(tmp_path, monkeypatch):
    monkeypatch.setattr(unit, "_settled_kits", set())
    gc.unfreeze()
    gc.disable()  # no automatic collection: only the worker's own may free the garbage below
    try:
        garbage = Cycle()
        gone = weakref.ref(garbage)
        del garbage
        grade_unit(write_submission(tmp_path / "a", "vgg"), "vgg", "student")
        assert gc.get_freeze_count() > 10_000  # torch, pytest, the reference and its results: left out of walks
        assert gone() is None  # the garbage was collected first, not frozen with the rest
        assert all(not c.submission and c.student is None for c in cache._caches)  # nor the student's values
        alive = Cycle()
        grade_unit(write_submission(tmp_path / "b", "vgg"), "vgg", "student")
        assert _collectable(alive)  # once per assignment: what later units leave stays in the collector's reach
        grade_unit(write_submission(tmp_path / "c", "resnet"), "resnet", "student")
        assert not _collectable(alive)  # frozen with resnet's reference and results
    finally:
        gc.enable()
        gc.unfreeze()
