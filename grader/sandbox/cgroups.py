"""Cgroups per slot (best effort): one memory bound and one CPU share for all the processes of a child.

The zygote joins its slot's cgroups once (``enter_slot``): its children are
then born inside them. Joining in every child would cost ~12 ms each (a
cgroup v1 attach waits for RCU grace periods). The zygote's own pages (torch,
shared copy-on-write with its children) count towards the bound; it is
shielded from the OOM killer there, and every sandboxed process is made its
first choice (oom_score_adj 1000). A slot's cgroups are named after its
zygote's pid, so those of a zygote that died are recognised and removed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

CGROUP_PREFIX = "cnn-sandbox-"

CGROUP_CONTROLLERS = ("memory", "cpu")  # memory: one bound for all the child's processes; cpu: one fair share


def _cgroup_dirs(slot: int) -> list[tuple[str, str, Path]]:
    """(version, controller, directory) of slot ``slot``'s cgroups, next to this process's (or its slot's) cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, field, path = parts
        rel = Path(path.strip().lstrip("/"))
        if rel.name.startswith(CGROUP_PREFIX):  # this process already is in a slot (a zygote or its child)
            rel = rel.parent
        if field:  # cgroup v1: one hierarchy per controller (or per co-mounted group, e.g. "cpu,cpuacct")
            for controller in CGROUP_CONTROLLERS:
                if controller in field.split(","):
                    for mount_dir in (Path("/sys/fs/cgroup") / field, Path("/sys/fs/cgroup") / controller):
                        if (mount_dir / rel / "cgroup.procs").exists():
                            found.append(("v1", controller, mount_dir / rel / f"{CGROUP_PREFIX}{slot}"))
                            break
        elif Path("/sys/fs/cgroup/cgroup.controllers").exists():  # cgroup v2, where the parent delegates controllers
            base = Path("/sys/fs/cgroup") / rel
            try:
                enabled = (base / "cgroup.subtree_control").read_text(encoding="ascii").split()
            except OSError:
                enabled = []
            for controller in CGROUP_CONTROLLERS:
                if controller in enabled:
                    found.append(("v2", controller, base / f"{CGROUP_PREFIX}{slot}"))
    return found


def set_memory_bound(slot: int, limit: int) -> bool:
    """Set slot ``slot``'s bound on the memory of all its processes together (a file write, no attach)."""
    done = False
    for version, controller, directory in _cgroup_dirs(slot):
        if controller != "memory" or not directory.is_dir():
            continue
        try:
            if version == "v1":
                swap = directory / "memory.memsw.limit_in_bytes"
                limits = [directory / "memory.limit_in_bytes"] + ([swap] if swap.exists() else [])
                current = int((directory / "memory.limit_in_bytes").read_text(encoding="ascii"))
                for path in (limits if limit <= current else limits[::-1]):  # memsw must stay >= the memory limit
                    path.write_text(str(limit), encoding="ascii")
            else:
                (directory / "memory.max").write_text(str(limit), encoding="ascii")
                if (directory / "memory.swap.max").exists():
                    (directory / "memory.swap.max").write_text("0", encoding="ascii")
            done = True
        except (OSError, ValueError):
            continue
    return done


def set_oom_score_adj(value: int) -> None:
    try:
        Path("/proc/self/oom_score_adj").write_text(str(value), encoding="ascii")
    except OSError:
        pass


def enter_slot(slot: int, memory_limit: int) -> list[str]:
    """Move this zygote into its slot's cgroups (created here); returns the controllers joined."""
    remove_stale_cgroups()
    joined = []
    for _, controller, directory in _cgroup_dirs(slot):
        try:
            directory.mkdir(exist_ok=True)
            (directory / "cgroup.procs").write_text("0", encoding="ascii")
            joined.append(controller)
        except OSError:
            continue
    if "memory" in joined:
        set_memory_bound(slot, memory_limit)
        set_oom_score_adj(-1000)  # inside its slot the zygote is never the OOM victim (its children are)
    return joined


def leave_slot(slot: int, wait: float = 2.0) -> None:
    """Move this zygote back to its parent cgroups and remove the slot's, once its last (killed) process is gone."""
    deadline = time.monotonic() + wait
    for _, _, directory in _cgroup_dirs(slot):
        try:
            (directory.parent / "cgroup.procs").write_text("0", encoding="ascii")
        except OSError:
            pass
        while directory.exists():
            try:
                directory.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)


def memory_cgroup_available() -> bool:
    """Can children here be put into a memory cgroup of their own (a bound on all their processes together)?"""
    return os.geteuid() == 0 and any(controller == "memory" for _, controller, _ in _cgroup_dirs(0))


def remove_stale_cgroups() -> None:
    """Remove empty slot cgroups left by zygotes that are gone (killed before they could clean up)."""
    for _, _, directory in _cgroup_dirs(0):
        for stale in directory.parent.glob(f"{CGROUP_PREFIX}*"):
            try:
                zygote_pid = int(stale.name[len(CGROUP_PREFIX):])
            except ValueError:
                continue
            if zygote_pid > 0 and not os.path.exists(f"/proc/{zygote_pid}"):
                try:
                    stale.rmdir()
                except OSError:
                    pass
