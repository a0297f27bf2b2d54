"""nbgrader's side of the benchmark, run as its own process: ``python -m bench.nbgrader_driver ROOT JSON``.

It does what ``nbgrader autograde <assignment>`` does in a course folder,
through nbgrader's own API (``NbGraderAPI.autograde(assignment, student)``, the
call behind nbgrader's formgrader and ``nbgrader autograde --student``), one
call per student × assignment so that each submission's time is measured on
its own. Each call starts a fresh Jupyter kernel, runs the whole notebook
(visible checks included, as nbgrader grades them) and writes nbgrader's
gradebook. The process's start-up (imports, config) is paid once, as in one
``nbgrader autograde`` command over a class.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("json")
    parser.add_argument("--assignment", action="append", default=[])
    args = parser.parse_args()
    root = Path(args.root)

    started = time.monotonic()
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # alembic
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    api = NbGraderAPI(config=config)
    db_url = config.CourseDirectory.db_url
    units: list[dict] = []
    grading_started = time.monotonic()
    for task in args.assignment:
        students = sorted(p.name for p in (root / "submitted").iterdir() if (p / task).is_dir())
        for student in students:
            t0 = time.monotonic()
            outcome = api.autograde(task, student, force=True, create=True)
            seconds = time.monotonic() - t0
            entry = {"student_id": student, "assignment": task, "seconds": round(seconds, 3),
                     "success": bool(outcome.get("success")), "score": None, "max_score": None, "failed": [],
                     "finished_at": round(time.monotonic() - started, 3)}
            if not outcome.get("success"):
                entry["error"] = (outcome.get("error") or outcome.get("log") or "")[-2000:]
            else:
                with Gradebook(db_url) as gb:
                    submission = gb.find_submission(task, student)
                    entry["score"], entry["max_score"] = submission.score, submission.max_score
                    for notebook in submission.notebooks:
                        entry["failed"] += [g.name for g in notebook.grades
                                            if g.max_score and (g.score or 0) < g.max_score]
            units.append(entry)
    grading_wall = time.monotonic() - grading_started
    import nbgrader

    Path(args.json).write_text(json.dumps({"units": units, "grading_wall_s": round(grading_wall, 3),
                                           "nbgrader": nbgrader.__version__}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
