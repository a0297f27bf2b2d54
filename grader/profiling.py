"""Where one student × assignment's time goes: sandbox start, student cells, and each hidden test split into
the trusted side, the sandbox's side and the wire (bytes and seconds).

Off by default and free when off: ``grade_unit`` looks at ``GRADER_PROFILE`` once per unit, and the
sandbox client counts round trips only while ``grader.wire.meter`` is set. When on, the last unit's
profile waits in this worker's ``last`` until ``take()`` (the benchmark's worker wrapper, bench/kit_driver.py,
carries it out with the result); it never reaches the results JSON (docs/results-format.md).
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest

from grader import wire
from grader.sandbox.client import StudentRaised

ENV = "GRADER_PROFILE"
PING = "__grader_profile_ping__"  # a name no notebook defines: the child's cheapest possible answer

last: dict[str, Any] | None = None


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def take() -> dict[str, Any] | None:
    """The profile of this worker's last unit (once)."""
    global last
    profile, last = last, None
    return profile


class UnitProfile:
    """One unit's measurements; ``as_dict`` is what ``take`` hands out."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()  # this worker's CPU (all its threads), the children's not in it
        self.meter = wire.Meter()
        self.start_s = 0.0
        self.forks = 0
        self.cells_s = 0.0
        self.cells_meter: tuple = (0, 0, 0, 0.0, 0.0)
        self.pytest_s = 0.0
        self.prepare_s = 0.0  # start → first fork: collecting, reading, scanning, fingerprinting the notebook
        self.finished = 0.0  # when the hidden tests were done: what follows is closing the child, cleaning up
        self.tests: list[dict[str, Any]] = []

    def timed_fork(self, fork: Callable):
        """``fork`` plus one ping: a child's start is fork → first answer (the cells' time is the rest)."""
        def timed():
            began = time.perf_counter()
            child = fork()
            try:
                child.request({"op": wire.Op.GET.value, "name": PING}, timeout=10)
            except StudentRaised:
                pass  # the expected NameError: the child is up and answering
            self.start_s += time.perf_counter() - began
            self.forks += 1
            return child
        return timed

    @contextmanager
    def cells(self) -> Iterator[None]:
        began = time.perf_counter()
        self.prepare_s = began - self.started
        yield
        self.cells_s = time.perf_counter() - began - self.start_s
        self.cells_meter = self.meter.snapshot()

    @contextmanager
    def hidden_tests(self) -> Iterator[None]:
        began = time.perf_counter()
        yield
        self.finished = time.perf_counter()
        self.pytest_s = self.finished - began

    def as_dict(self, assignment: str, student_id: str) -> dict[str, Any]:
        total = time.perf_counter() - self.started
        tests_s = sum(t["seconds"] for t in self.tests)
        finish = time.perf_counter() - self.finished if self.finished else 0.0
        return {"assignment": assignment, "student_id": student_id, "total_s": total,
                "trusted_cpu_s": time.process_time() - self.cpu_started,
                "prepare_s": self.prepare_s, "finish_s": finish,
                "sandbox_start_s": self.start_s, "forks": self.forks, "cells_s": self.cells_s,
                "cells_requests": self.cells_meter[0], "tests_s": tests_s,
                "pytest_overhead_s": max(0.0, self.pytest_s - tests_s),
                "other_s": max(0.0, total - self.start_s - self.cells_s - self.pytest_s),
                # the sandboxed child's own CPU time over the whole unit, cells included, as its answers report it
                "child_code_cpu_s": self.meter.child_code_cpu_s,
                "child_describe_cpu_s": self.meter.child_describe_cpu_s,
                "child_wire_cpu_s": self.meter.child_wire_cpu_s,
                "tests": self.tests}


class ProfilePlugin:
    """Times each hidden test (setup, call, teardown) and splits it with the wire meter's counters."""

    def __init__(self, profile: UnitProfile):
        self.profile = profile

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        meter = self.profile.meter
        before = meter.snapshot()
        began = time.perf_counter()
        try:
            return (yield)
        finally:
            seconds = time.perf_counter() - began
            requests, sent, received, wire_s, wait_s, wire_cpu_s, code_cpu, describe_cpu, child_wire_cpu = (
                a - b for a, b in zip(meter.snapshot(), before))
            self.profile.tests.append({
                "test": item.name, "seconds": seconds, "requests": requests,
                "trusted_s": max(0.0, seconds - wire_s - wait_s), "sandbox_s": wait_s, "wire_s": wire_s,
                "wire_cpu_s": wire_cpu_s, "bytes_sent": sent, "bytes_received": received,
                "child_code_cpu_s": code_cpu, "child_describe_cpu_s": describe_cpu,
                "child_wire_cpu_s": child_wire_cpu})


@contextmanager
def profiling(assignment: str, student_id: str) -> Iterator[UnitProfile]:
    """Count this unit's round trips; at the end its profile waits in ``last``."""
    global last
    profile = UnitProfile()
    wire.meter = profile.meter
    try:
        yield profile
    finally:
        wire.meter = None
        last = profile.as_dict(assignment, student_id)
