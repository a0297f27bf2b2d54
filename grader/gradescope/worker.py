"""``python -m grader.gradescope.worker NOTEBOOK ASSIGNMENT OUT.json``: grade one notebook the kit's normal way.

Started by ``grader.gradescope.autograder`` in its own session, so a crash or a
hang here never costs the supervisor its ``results.json``. The unit result is
written only after the sandboxed child is closed (``grade_unit`` does that) and
this worker's zygote has exited, so no process of the student's uid is left.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    notebook, assignment_id, out = argv
    from grader.sandbox import launcher

    launcher.launch_early()  # the zygote's start-up overlaps this process's torch import and the reference's load
    from grader import unit
    from grader.unit import Settings, grade_unit

    settings = json.loads(os.environ.get("CNN_AUTOGRADER_SETTINGS", "{}"))
    result = grade_unit(Path(notebook), assignment_id, "gradescope", Settings(**settings))
    zygote = unit._zygote  # noqa: SLF001 (this worker's own zygote: closed before anything is written)
    if zygote is not None:
        zygote.close()
    tmp = Path(out).with_suffix(".tmp")
    tmp.write_text(json.dumps(result.to_dict(), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
