"""Grade a folder the way the kit runs inside an ordinary container: root, but with Docker's default capabilities.

The grader is not told which sandbox to use (``CNN_GRADER_SANDBOX`` unset):
it must find out what the "container" allows, as it would in Docker, a
Kubernetes pod or Gradescope. Two containers are emulated:

- ``container``: Docker's default capability set (no CAP_SYS_ADMIN), applied
  with ``setpriv --bounding-set``; a process may still build a user namespace
  with mount, network and PID namespaces inside it (podman, an unconfined
  pod): the grader must choose the ``container`` sandbox;
- ``container-no-userns``: the same, plus the namespace rule of Docker's
  default seccomp profile (no namespace but the user namespace), loaded as
  runc loads it: the grader must fall back to the ``uid`` sandbox.

As in ``unprivileged.py``, the helper first makes the interpreter reachable
for other uids in a mount namespace of its own (an image would install Python
in /usr/local, as the Dockerfile does); nothing of the host changes.

Run as ``python tests/container.py wrap|grade SPEC.json``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DOCKER_CAPABILITIES = ("chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
                       "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write", "setfcap")
CAP_SYS_ADMIN = 21
KINDS = {"container": False, "container-no-userns": True}  # kind: with Docker's seccomp namespace rule?


class Unavailable(Exception):
    pass


def grade_in_container(kind: str, submissions: Path, out: Path, settings: dict,
                       timeout: float = 900) -> tuple[dict, float]:
    """Grade ``submissions`` into ``out`` as root with Docker's default capabilities; ({student: result}, s)."""
    if os.geteuid() != 0:
        raise Unavailable("emulating a container needs root (to drop capabilities from)")
    if shutil.which("setpriv") is None:
        raise Unavailable("setpriv (util-linux) is not installed")
    out.mkdir(parents=True, exist_ok=True)
    spec = {"submissions": str(submissions), "out": str(out), "settings": settings, "seccomp": KINDS[kind],
            "keep": sorted({sys.base_prefix, sys.prefix, str(Path(__file__).resolve().parents[1])})}
    spec_path = out / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "wrap", str(spec_path)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"grading in the emulated container failed ({done.returncode}):\n{done.stderr[-3000:]}")
    results = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {r["student_id"]: r for r in results}, seconds


def wrap(spec_path: Path) -> None:
    """As root with every capability: what the image and the engine do, then the grader under Docker's caps."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from unprivileged import make_reachable

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    make_reachable([Path(p) for p in spec["keep"]])
    if spec["seccomp"]:
        from grader.sandbox.syscall_filter import install_docker_default_namespace_rule

        install_docker_default_namespace_rule()
    caps = ",".join(f"+{c}" for c in DOCKER_CAPABILITIES)
    os.execv(shutil.which("setpriv"), ["setpriv", f"--bounding-set=-all,{caps}", "--inh-caps=-all", "--",
                                       sys.executable, __file__, "grade", str(spec_path)])


def capability_bounding_set() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    return 0


def grade(spec_path: Path) -> None:
    """Inside the emulated container: grade with whatever sandbox the grader finds, write the results as JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rich.console import Console

    from grader.run import GradeRun
    from grader.unit import Settings

    if os.geteuid() != 0 or capability_bounding_set() & (1 << CAP_SYS_ADMIN):
        sys.exit("grade must run as root without CAP_SYS_ADMIN")
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    out = Path(spec["out"])
    results = GradeRun(submissions=Path(spec["submissions"]), out=out, workers=2,
                       settings=Settings(**spec["settings"]), console=Console(stderr=True, quiet=True)).run()
    (out / "run.json").write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    {"wrap": wrap, "grade": grade}[sys.argv[1]](Path(sys.argv[2]))
