"""Grade a folder the way a TA without root does: the grader itself runs as an unprivileged user.

The grader then cannot use the root sandbox; it must choose the user-namespace
one (``CNN_GRADER_SANDBOX=userns`` insists on it, so a machine without it
fails the run instead of passing quietly). Used by the attack corpus.

When the tests run as root, a helper process becomes ``nobody`` first, in a
mount namespace of its own in which directories that ``nobody`` may not walk
through (Python under root's 0700 home directory, on these machines) are
covered by a 0755 tmpfs with only the needed paths bound back. Nothing of the
host changes. When the tests already run without root, the grader is simply
started as it is.

Run as ``python tests/unprivileged.py wrap|grade SPEC.json``; ``SPEC`` holds the
submissions and output folders, the grading settings and the paths to keep.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

NOBODY = 65534
UNAVAILABLE = 77  # exit code: this kernel allows no user namespaces to an unprivileged user


class Unavailable(Exception):
    pass


def grade_unprivileged(submissions: Path, out: Path, settings: dict, timeout: float = 600) -> tuple[dict, float]:
    """Grade ``submissions`` into ``out`` as an unprivileged user; returns ({student: result}, seconds)."""
    out.mkdir(parents=True, exist_ok=True)
    uid = os.geteuid()
    if uid == 0:  # the submissions must be readable by others (the wrapper makes closed parents walkable)
        os.chown(out, NOBODY, NOBODY)
    spec = {"submissions": str(submissions), "out": str(out), "settings": settings,
            "keep": sorted({sys.base_prefix, sys.prefix, str(Path(__file__).resolve().parents[1]),
                            str(submissions), str(out)})}
    spec_path = out / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", "LANG": "C.UTF-8",
           "CNN_GRADER_SANDBOX": "userns", "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "wrap" if uid == 0 else "grade", str(spec_path)],
                          env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    if done.returncode == UNAVAILABLE:
        raise Unavailable(done.stderr.strip()[-500:])
    if done.returncode != 0:
        raise RuntimeError(f"grading as an unprivileged user failed ({done.returncode}):\n{done.stderr[-3000:]}")
    results = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {r["student_id"]: r for r in results}, seconds


def make_reachable(keep: list[Path]) -> None:
    """In a mount namespace of this process's own: cover every directory on the way to ``keep`` that others may
    not walk through (Python under root's 0700 home directory, on these machines) with a 0755 tmpfs, and bind
    only the kept paths back. Nothing of the host changes. Needs CAP_SYS_ADMIN (call it before dropping it)."""
    from grader.sandbox.rootfs import outermost
    from grader.sandbox.syscalls import CLONE_NEWNS, MS_BIND, MS_PRIVATE, MS_REC, mount, unshare

    unshare(CLONE_NEWNS)
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    closed = [a for p in keep for a in p.parents if a != Path("/") and not os.stat(a).st_mode & 0o001]
    for directory in outermost(closed):
        inside = outermost([p for p in keep if directory in p.parents])
        handles = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in inside}
        mount("tmpfs", str(directory), "tmpfs", 0, "mode=0755")
        for path, fd in handles.items():
            os.makedirs(path, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", str(path), None, MS_BIND | MS_REC)
            os.close(fd)


def wrap(spec_path: Path) -> None:
    """As root: own mount namespace, make the kept paths reachable, become nobody, then ``grade``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    make_reachable([Path(p) for p in spec["keep"]])
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    os.execv(sys.executable, [sys.executable, __file__, "grade", str(spec_path)])


def grade(spec_path: Path) -> None:
    """As the unprivileged user: insist on the user-namespace sandbox, grade, write the results as JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rich.console import Console

    from grader.run import GradeRun
    from grader.sandbox.modes import probe_userns
    from grader.unit import Settings

    if os.geteuid() == 0:
        sys.exit("grade must not run as root")
    if not probe_userns():
        print("this kernel gives an unprivileged user no user namespaces "
              "(user.max_user_namespaces or kernel.unprivileged_userns_clone)", file=sys.stderr)
        sys.exit(UNAVAILABLE)
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    out = Path(spec["out"])
    results = GradeRun(submissions=Path(spec["submissions"]), out=out, workers=2,
                       settings=Settings(**spec["settings"]), console=Console(stderr=True, quiet=True)).run()
    (out / "run.json").write_text(json.dumps([r.to_dict() for r in results]), encoding="utf-8")


if __name__ == "__main__":
    {"wrap": wrap, "grade": grade}[sys.argv[1]](Path(sys.argv[2]))
