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

- ``old-kernel``: the same as ``container-no-userns`` on a kernel without
  Landlock (its calls answer ENOSYS): no sandbox can be built, and the run
  must stop before grading, saying why.

The interpreter stays where it is (under root's 0700 home directory on these
machines): the sandbox must cope with it, as in a container built that way.

Run as ``python tests/container.py wrap SPEC.json`` (then ``grade``), or
``python tests/container.py exec KIND COMMAND...``.
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
KINDS = {"container": (), "container-no-userns": ("seccomp",), "old-kernel": ("seccomp", "no-landlock")}
NAMESPACE_FLAGS = (0x00020000, 0x04000000, 0x08000000, 0x20000000, 0x40000000, 0x02000000)  # all but CLONE_NEWUSER


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
    spec = {"submissions": str(submissions), "out": str(out), "settings": settings, "kind": kind}
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


def load_docker_seccomp_rule(without_landlock: bool) -> None:
    """Docker's default seccomp profile, as far as namespaces go: a process without CAP_SYS_ADMIN may create a
    user namespace but no other (and setns is refused). Loaded as runc loads it: by a process that still holds
    CAP_SYS_ADMIN, without no_new_privs. ``without_landlock``: Landlock's calls answer ENOSYS (an older kernel)."""
    import errno

    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for flag in NAMESPACE_FLAGS:
        for call in ("unshare", "clone"):
            rules.add_rule(seccomp.ERRNO(errno.EPERM), call, seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.add_rule(seccomp.ERRNO(errno.EPERM), "setns")
    if without_landlock:
        for call in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
            rules.add_rule(seccomp.ERRNO(errno.ENOSYS), call)
    rules.set_attr(seccomp.Attr.CTL_NNP, 0)
    rules.load()


def exec_in_container(kind: str, argv: list[str]) -> None:
    """As root with every capability: what the engine does (seccomp, then Docker's capabilities), then ``argv``."""
    if "seccomp" in KINDS[kind]:
        load_docker_seccomp_rule(without_landlock="no-landlock" in KINDS[kind])
    caps = ",".join(f"+{c}" for c in DOCKER_CAPABILITIES)
    os.execv(shutil.which("setpriv"), ["setpriv", f"--bounding-set=-all,{caps}", "--inh-caps=-all", "--", *argv])


def wrap(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    exec_in_container(spec["kind"], [sys.executable, __file__, "grade", str(spec_path)])


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
    (out / "run.json").write_text(json.dumps([r.to_dict() for r in results]), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1] == "exec":
        exec_in_container(sys.argv[2], sys.argv[3:])
    else:
        {"wrap": wrap, "grade": grade}[sys.argv[1]](Path(sys.argv[2]))
