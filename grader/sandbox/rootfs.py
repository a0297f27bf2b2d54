"""The child's new root file system: an allow-list of the host, read-only, and nothing else.

An empty tmpfs holds read-only bind mounts of the system directories
(``/usr``, ``/etc``, ``/lib*``...), the interpreter, the virtual environment
and the grader package, ``/sys`` read-only, a minimal ``/dev`` (``null``,
``zero``, ``full``, ``random``, ``urandom`` and the GPU nodes, bound one by
one as bubblewrap's ``--dev`` does: no terminals, disks, ``kvm`` or
``fuse``), a fresh ``/proc`` showing only the sandbox's processes, and a small
private ``/tmp`` and ``/dev/shm``. Nothing else of the host exists in there:
not the project (solutions, hidden tests, grades), not the submissions,
wherever they live, not ``/home`` or ``/root``. The old root is detached
after ``pivot_root``.
"""
from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from grader.sandbox.syscalls import (MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
                                     MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC,
                                     MS_REMOUNT, IsolationError, mount, mount_setattr_recursive, pivot_root,
                                     umount_detached)

# Host directories the sandbox sees (read-only), besides the interpreter, the venv and the grader package.
SYSTEM_DIRECTORIES = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc")
# The only device nodes it gets: harmless ones, and GPUs (NVIDIA's nodes; AMD's kfd and dri).
DEVICE_NODES = ("null", "zero", "full", "random", "urandom")
GPU_DEVICE_PATTERNS = ("nvidia*", "kfd", "dri")
DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                "stderr": "/proc/self/fd/2"}

def needed_paths(config: dict) -> list[Path]:
    """What the sandboxed interpreter must still read: Python itself, the venv, the grader package."""
    return list(_needed_paths(tuple(config.get("expose", []))))


@lru_cache(maxsize=None)
def _needed_paths(expose: tuple[str, ...]) -> tuple[Path, ...]:
    """Worked out once, while this process can still walk to every one of them: a child that has taken its slot
    uid cannot even stat a path below a directory closed to others (a checkout under a 0700 folder), and it asks
    again after the drop (the allow-list, the new root)."""
    import grader

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(grader.__file__).resolve().parent}
    paths.update(Path(p) for p in sys.path if p and "site-packages" in p and Path(p).is_dir())
    paths.update(Path(p) for p in expose if Path(p).exists())
    return tuple(sorted({p.resolve() for p in paths}))


def outermost(paths: list[Path]) -> list[Path]:
    """Drop every path that lies inside another one of the list."""
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(k == path or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _set_read_only(target: str, attrs: int) -> None:
    """Make ``target`` and every mount below it read-only (mount_setattr, Linux >= 5.12; else remount one by one)."""
    if mount_setattr_recursive(target, attrs):
        return
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | (MS_NOSUID if attrs & MOUNT_ATTR_NOSUID else 0) | (
        MS_NODEV if attrs & MOUNT_ATTR_NODEV else 0) | (MS_NOEXEC if attrs & MOUNT_ATTR_NOEXEC else 0)
    for point in [p for p in _mount_points() if p == target or p.startswith(target.rstrip("/") + "/")]:
        try:
            mount("none", point, None, flags)
        except IsolationError:
            pass  # a mount hidden under another one cannot be reached anyway


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            points.append(line.split()[4].encode().decode("unicode_escape"))
    return points


def hide(directory: Path, expose: list[Path], links: dict[str, str] | None = None) -> None:
    """Cover ``directory`` with an empty tmpfs, then mount back only the ``expose`` paths beneath it (read-only),
    and put back the ``links`` beneath it (paths reached through handles: see ``build_file_system``)."""
    keep = [p for p in expose if directory == p or directory in p.parents]
    inner = {Path(link): target for link, target in (links or {}).items() if directory in Path(link).parents}
    if any(p == directory for p in keep) or str(directory) in (links or {}):
        return
    handles = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in keep if p.exists()}
    open_up = keep or inner
    mount("tmpfs", str(directory), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k" if open_up else
          "mode=000,size=4k")
    for path, fd in handles.items():
        inside = path.relative_to(directory)
        os.makedirs(directory / inside, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", str(path), None, MS_BIND | MS_REC)
        os.close(fd)
    for link, target in inner.items():
        os.makedirs(link.parent, exist_ok=True)
        os.symlink(target, link)
    if open_up:
        mount("none", str(directory), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def device_nodes() -> list[Path]:
    """The host's device nodes the sandbox's /dev holds (those that exist here)."""
    found = [Path("/dev") / name for name in DEVICE_NODES]
    for pattern in GPU_DEVICE_PATTERNS:
        found += sorted(Path("/dev").glob(pattern))
    return [p for p in found if p.exists() and not p.is_symlink()]


def closed_to_others(path: Path) -> bool:
    """Can another uid not walk to ``path`` (a directory on the way without the "x" bit for others)?"""
    try:
        return any(not os.stat(p).st_mode & 0o001 for p in [path, *path.parents])
    except OSError:
        return False


def open_closed_paths(config: dict) -> dict[Path, int]:
    """Handles on the needed paths that an unprivileged uid could not walk to (Python under root's 0700 home, on
    some machines), opened while the child is still root; the child reaches them through ``/proc/self/fd``
    afterwards, without any change to the TA's tree (``alias``)."""
    closed = outermost([p for p in needed_paths(config) if closed_to_others(p)])
    return {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in closed if p.is_dir()}


def alias(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def reach_through_handles(handles: dict[Path, int]) -> None:
    """Import from the handles of ``open_closed_paths`` from now on (the uid sandbox has no mount namespace)."""
    def through(entry: str) -> str:
        for path, fd in handles.items():
            prefix = str(path)
            if entry == prefix or entry.startswith(prefix + "/"):
                return alias(fd) + entry[len(prefix):]
        return entry

    sys.path[:] = [through(entry) for entry in sys.path]
    for module in list(sys.modules.values()):  # a submodule of a package imported already is found on its __path__
        search = getattr(module, "__path__", None)
        if isinstance(search, list) and any(through(entry) != entry for entry in search):
            search[:] = [through(entry) for entry in search]


def build_file_system(config: dict, limits: dict, handles: dict[Path, int] | None = None) -> None:
    """Pivot into a new root that holds only the allow-listed host directories (see the module docstring).

    ``handles`` (``open_closed_paths``): needed paths this uid could not walk to; they appear in the new root
    as symbolic links to the handles (a bind mount's source must belong to this mount namespace; they do not).
    """
    os.umask(0o022)
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    handles = handles or {}
    needed = [p for p in needed_paths(config) if not any(h == p or h in p.parents for h in handles)]
    system = [Path(d) for d in SYSTEM_DIRECTORIES if os.path.isdir(d) and not os.path.islink(d)]
    links = {d: os.readlink(d) for d in SYSTEM_DIRECTORIES if os.path.islink(d)}
    handle_links = {str(p): alias(fd) for p, fd in handles.items()}  # a hidden project must not cover these
    links.update(handle_links)
    binds = outermost(system + needed) + [Path("/sys")] + device_nodes()
    # Handles first: the staging tmpfs goes over /tmp, which may hold a path to bind (a venv in /tmp, say).
    # (Opened here, in the new mount namespace: a bind mount's source must belong to the caller's namespace.)
    handles = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in binds if p.exists()}
    new = "/tmp"
    size = int(limits["tmp_bytes"])
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for directory in ("/proc", "/tmp", "/dev"):
        os.makedirs(new + directory)
    mount("tmpfs", new + "/dev", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")  # holds only what is bound
    # The scratch /tmp first: a needed path under /tmp is then bound inside it (root-owned in a sticky directory).
    mount("tmpfs", new + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
    for path, fd in handles.items():
        target = new + str(path)
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(target, exist_ok=True)
        else:  # a single file (an ``expose`` entry)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        os.close(fd)
        if path.parent == Path("/dev"):
            _set_read_only(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID)  # device nodes must keep working (GPU)
        else:
            _set_read_only(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
    for link, points_to in links.items():
        os.makedirs(os.path.dirname(new + link), exist_ok=True)
        os.symlink(points_to, new + link)
    for link, points_to in DEVICE_LINKS.items():
        os.symlink(points_to, f"{new}/dev/{link}")
    os.mkdir(new + "/dev/shm")
    mount("none", new + "/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    mount("tmpfs", new + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
    mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # this PID namespace's processes only
    os.chdir(new)
    os.mkdir(".old")
    pivot_root(".", ".old")
    os.chdir("/")
    umount_detached("/.old")
    os.rmdir("/.old")
    # Paths the configuration hides that an allow-listed directory still shows (a project kept under /usr, say).
    root_device = os.stat("/").st_dev
    for path in sorted({Path(p) for p in config.get("hide", [])}, key=lambda p: len(p.parts)):
        if path.is_dir() and os.stat(path).st_dev != root_device:
            hide(path, needed, handle_links)
    mount("none", "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
