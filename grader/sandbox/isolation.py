"""What a freshly forked child does to itself before it runs a line of student code.

Each step is a kernel mechanism measured on these machines
(../shared/sandbox-notes.md), applied in an order that matters:

1. own session, only its socket left open;
2. new mount, network, PID, IPC and UTS namespaces (no network at all: not
   even loopback is up), then one more fork so the student runs as PID 1 of
   its own PID namespace: when it ends, the kernel kills everything it started;
3. a fresh ``/proc`` (only the sandbox's processes), private ``/tmp`` and
   ``/dev/shm`` (small tmpfs, nothing shared with later submissions), the
   project, the submissions and the gradebook hidden under empty tmpfs, with
   only the interpreter, the virtual environment and the grader's own package
   mounted back, and every other mount read-only;
4. resource limits, then an unprivileged uid distinct per concurrent zygote,
   ``no_new_privs``, and the death signal again (``setuid`` clears it).

Python 3.11 has no ``os.unshare`` or ``mount``; they are called through
ctypes. Without root (a TA on a laptop) the namespaces are unavailable: the
child then runs with limits and a process group only, and the grader says so.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import socket
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
GiB = 1024**3
FIRST_SANDBOX_UID = 200_000

DEFAULT_LIMITS = {
    "memory_bytes": 4 * GiB,  # RLIMIT_AS: CPU torch needs ~0.7 GiB after import
    "cpu_seconds": 300,
    "file_bytes": 16 * 1024 * 1024,
    "processes": 32,
    "open_files": 256,
    "tmp_bytes": 64 * 1024 * 1024,
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


class IsolationError(OSError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {target}")


def set_death_signal() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def can_isolate() -> bool:
    """Namespaces and mounts need root here (see the module docstring)."""
    return os.geteuid() == 0 and sys.platform == "linux"


def probe() -> bool:
    """Can a child of this process build the full sandbox here? (Forks a throwaway child to find out.)"""
    if not can_isolate():
        return False
    pid = os.fork()
    if pid == 0:
        try:
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
            mount("none", "/", None, MS_REC | MS_PRIVATE)
            mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k")
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def sandbox_uid(zygote_pid: int) -> int:
    """A uid per concurrent zygote: RLIMIT_NPROC counts per uid, and no two sandboxes may share files."""
    return FIRST_SANDBOX_UID + zygote_pid


def close_other_fds(keep: socket.socket) -> None:
    """Leave the child only stdin/stdout/stderr (pointed at /dev/null) and its own socket."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.closerange(3, keep.fileno())
    os.closerange(keep.fileno() + 1, 65536)


def enter_pid_namespace() -> None:
    """Fork once more after unshare(CLONE_NEWPID): the new process is PID 1 of the sandbox.

    The middle process only waits and passes on the exit status; killing it
    (as the worker does) kills PID 1 through its death signal, and the kernel
    then kills every process left in the namespace.
    """
    pid = os.fork()
    if pid:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    set_death_signal()


def _needed_paths() -> list[Path]:
    """What the sandboxed interpreter must still read: Python itself, the venv, the grader package."""
    import grader

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(grader.__file__).resolve().parent}
    paths.update(Path(p) for p in sys.path if p and Path(p).is_dir() and "site-packages" in p)
    return sorted(p.resolve() for p in paths)


def _unreadable_ancestors(path: Path) -> list[Path]:
    """Ancestors that an unprivileged uid cannot traverse (e.g. /root, mode 0700)."""
    return [a for a in reversed(path.parents) if a != Path("/") and a.is_dir() and not os.stat(a).st_mode & 0o001]


def hide(directory: Path, expose: list[Path]) -> None:
    """Cover ``directory`` with an empty tmpfs, then mount back only the ``expose`` paths beneath it (read-only)."""
    keep = [p for p in expose if directory == p or directory in p.parents]
    if any(p == directory for p in keep):
        return
    handles = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in keep if p.exists()}
    mount("tmpfs", str(directory), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k" if keep else "mode=000,size=4k")
    for path, fd in handles.items():
        inside = path.relative_to(directory)
        os.makedirs(directory / inside, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", str(path), None, MS_BIND | MS_REC)
        os.close(fd)
    if keep:
        mount("none", str(directory), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            point = line.split()[4].encode().decode("unicode_escape")
            points.append(point)
    return points


def remount_read_only(writable: tuple[str, ...]) -> None:
    for point in _mount_points():
        if point in writable or point.startswith(("/proc", "/sys", "/dev")):
            continue
        try:
            mount("none", point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        except IsolationError:
            pass  # a mount hidden under another one cannot be reached anyway


def build_file_system(config: dict, limits: dict) -> None:
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    needed = _needed_paths()
    hidden = [Path(p).resolve() for p in config.get("hide", []) if Path(p).exists()]
    for path in needed:
        hidden.extend(_unreadable_ancestors(path))
    for directory in sorted(set(hidden), key=lambda p: len(p.parts)):
        hide(directory, needed)
    size = int(limits["tmp_bytes"])
    for scratch in ("/tmp", "/dev/shm", "/var/tmp"):
        if os.path.isdir(scratch):
            mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
    remount_read_only(("/tmp", "/dev/shm", "/var/tmp"))


def apply_limits(limits: dict, uses_cuda: bool) -> None:
    if not uses_cuda:  # CUDA reserves a huge address space: RLIMIT_AS would break it
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    set_death_signal()  # setuid cleared it


def enter(config: dict, sock: socket.socket) -> None:
    """Isolate this freshly forked child; raises if isolation was asked for and failed."""
    limits = {**DEFAULT_LIMITS, **config.get("limits", {})}
    os.setsid()  # its own process group: the worker kills the whole group
    set_death_signal()
    close_other_fds(sock)
    isolate = config.get("isolate", True) and can_isolate()
    if isolate:
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        enter_pid_namespace()
        build_file_system(config, limits)
        os.chdir("/tmp")
    elif config.get("scratch"):
        os.chdir(config["scratch"])
    apply_limits(limits, bool(config.get("cuda")))
    if isolate:
        drop_privileges(sandbox_uid(int(config["zygote_pid"])))
    os.environ["HOME"] = "/tmp"
