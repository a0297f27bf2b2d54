"""Snapshot what the hidden tests say, to prove that a refactoring of them changes no score and no message.

``python tests/tools/snapshot.py take OUT.jsonl`` runs the project tests that grade submissions (the bundled
examples, the attack corpus in the root sandbox, every wrong and valid implementation in
``tests/test_grading_*.py``) with ``GRADER_SNAPSHOT`` set, so ``tests/conftest.py`` appends every graded result;
it then writes one line per (project test, student, assignment, hidden test): points, outcome, message.
``python tests/tools/snapshot.py diff BEFORE.jsonl AFTER.jsonl`` lists every difference.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = {"examples": ["tests/test_examples.py"],
         "attacks": ["tests/test_attacks.py", "-k", "root-sandbox"],
         "grading": sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_grading_*.py"))}
# run-specific text: pytest's temporary folders
NOISE = [(re.compile(r"/tmp/pytest-of-[^/]+/pytest-\d+/"), "<tmp>/"), (re.compile(r"/tmp/[\w.-]+-\w{8}/"), "<tmp>/")]


def _normalise(message: str) -> str:
    for pattern, replacement in NOISE:
        message = pattern.sub(replacement, message)
    return message


def take(out: Path, parts: list[str]) -> None:
    raw = Path(tempfile.mkdtemp(prefix="snapshot-")) / "raw.jsonl"
    for part in parts:
        env = {**os.environ, "GRADER_SNAPSHOT": str(raw)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PARTS[part]]
        print("running:", " ".join(command), file=sys.stderr)
        subprocess.run(command, cwd=ROOT, env=env, check=False)
    rows, seen = [], Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        unit = (entry["node"], entry["student_id"], entry["assignment"])
        seen[unit] += 1  # one project test may grade the same student × assignment several times
        for test in entry["tests"]:
            rows.append({"node": entry["node"], "student": entry["student_id"], "assignment": entry["assignment"],
                         "call": seen[unit], "test": test["name"], "points": test["points"],
                         "max_points": test["max_points"], "outcome": test["outcome"],
                         "message": _normalise(test["message"] or "")})
    rows.sort(key=lambda r: (r["node"], r["student"], r["assignment"], r["call"], r["test"]))
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} rows from {sum(seen.values())} graded results -> {out}", file=sys.stderr)


def diff(before: Path, after: Path) -> int:
    def load(path: Path) -> dict:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return {(r["node"], r["student"], r["assignment"], r["call"], r["test"]): r for r in rows}

    old, new = load(before), load(after)
    differences = 0
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        differences += 1
        print("==", " | ".join(map(str, key)))
        if a is None or b is None:
            print("   only in", "after" if a is None else "before")
            continue
        for field in ("points", "max_points", "outcome", "message"):
            if a[field] != b[field]:
                print(f"   {field}:\n     before: {a[field]!r}\n     after:  {b[field]!r}")
    print(f"{differences} differences in {len(old)} / {len(new)} rows; score differences: "
          f"{sum(1 for k in old if k in new and old[k]['points'] != new[k]['points'])}")
    return 1 if differences else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    taking = sub.add_parser("take")
    taking.add_argument("out", type=Path)
    taking.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    taking.add_argument("--files", help="comma-separated project test files instead of --parts "
                        "(e.g. tests/test_grading_vgg.py,tests/test_examples.py)")
    diffing = sub.add_parser("diff")
    diffing.add_argument("before", type=Path)
    diffing.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "take":
        if args.files:
            PARTS["files"] = args.files.split(",")
        take(args.out, ["files"] if args.files else args.parts.split(","))
        return 0
    return diff(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
