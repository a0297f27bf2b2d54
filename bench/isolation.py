"""What the sandbox costs per child: fork → first answer from one zygote, with isolation on and off.

Run as its own process (``python -m bench.isolation JSON --children K --hide DIR…``)
so that the timing does not share an interpreter with the benchmark. Each
sample asks the zygote for a child and times until that child has answered a
trivial request (``run_cell "pass"``); isolated and plain children alternate,
so drift in the machine's load hits both alike.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path


def measure(children: int, hide: list[str]) -> dict:
    from grader.course import project_root
    from grader.sandbox.client import Zygote

    scratch = tempfile.mkdtemp(prefix="cnn-bench-iso-")
    zygote = Zygote()
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(2):  # warm-up, not counted
            for isolate in (True, False):
                _one(zygote, isolate, hide + [str(project_root())], scratch)
        for index in range(2 * children):
            isolate = index % 2 == 0
            times[isolate].append(_one(zygote, isolate, hide + [str(project_root())], scratch))
    finally:
        zygote.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return {"children": children, "zygote_isolated": zygote.isolated, "sandbox": zygote.mode,
            "isolated_ms": [round(t * 1000, 2) for t in times[True]],
            "plain_ms": [round(t * 1000, 2) for t in times[False]]}


def _one(zygote, isolate: bool, hide: list[str], scratch: str) -> float:
    config = {"isolate": isolate, "hide": hide, "scratch": scratch, "cuda": False}
    started = time.monotonic()
    child = zygote.fork(config)
    try:
        child.request({"op": "run_cell", "label": "bench", "source": "pass"}, timeout=10)
        return time.monotonic() - started
    finally:
        child.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("json")
    parser.add_argument("--children", type=int, default=20)
    parser.add_argument("--hide", action="append", default=[])
    args = parser.parse_args()
    Path(args.json).write_text(json.dumps(measure(args.children, args.hide), indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
