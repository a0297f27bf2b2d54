"""What a freshly forked child does to itself before it runs a line of student code.

Each step is a kernel mechanism measured on these machines
(../shared/sandbox-notes.md), applied in an order that matters:

1. own session, only its socket left open, default signal dispositions;
2. new mount, network, PID, IPC and UTS namespaces (no network at all: not
   even loopback is up), then one more fork so the student runs as PID 1 of
   its own PID namespace: when it ends, the kernel kills everything it started.
   The worker kills that PID 1 directly (``sandbox_pid_of``), so clearing the
   death signal or leaving the process group does not let it outlive its unit;
3. cgroups per slot where the machine offers them (the zygote joins them
   once; its children are born inside): one memory bound for all processes
   of the child together (CUDA included, which cannot take ``RLIMIT_AS``; a
   fork bomb of 4 GiB processes is bounded too), and one CPU share, so a
   child spinning many processes cannot starve another student's child into
   its time limits; sandboxed processes are the OOM killer's first choice;
4. a new root file system built from an allow-list, not a deny-list: an empty
   tmpfs holding read-only bind mounts of the system directories (``/usr``,
   ``/etc``, ``/lib*``...), the interpreter, the virtual environment and the
   grader package, ``/sys`` read-only, a minimal ``/dev`` (``null``,
   ``zero``, ``full``, ``random``, ``urandom`` and the GPU nodes, bound one
   by one as bubblewrap's ``--dev`` does: no terminals, disks, ``kvm`` or
   ``fuse``), a fresh ``/proc`` showing only the sandbox's processes, and a
   small private ``/tmp`` and ``/dev/shm``. Nothing else of the host exists in
   there: not the project (solutions, hidden tests, grades), not the
   submissions, wherever they live, not ``/home`` or ``/root``. The old root is
   detached after ``pivot_root``;
5. resource limits, then an unprivileged uid distinct per concurrent zygote,
   ``no_new_privs``, and the death signal again (``setuid`` clears it);
6. with CUDA, a per-process GPU memory bound registered to run when CUDA is
   first initialised (so a child that never touches the GPU pays nothing).

Python 3.11 has no ``os.unshare``, ``mount`` or ``pivot_root``; they are
called through ctypes.

Three modes, chosen once per zygote (``choose_mode``):

- ``root``: all of the above; each slot's children run as their own uid.
- ``userns`` (a TA without root, where the kernel allows unprivileged user
  namespaces, as bubblewrap uses them): the same namespaces, file system and
  limits, owned by a new user namespace in which the child maps only the
  grader's own uid and then drops every capability. Slots share that uid, but
  each sees only its own processes (PID namespace), files (its own root) and
  no network, so a slot cannot reach another. Cgroups only where the machine
  delegates them to the user (systemd does, for user sessions).
- ``limits``: neither root nor user namespaces; resource limits and a process
  group only, and the grader says so.
"""
from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import socket
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUSER = 0x20000000, 0x40000000, 0x10000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
MODES = ("root", "userns", "limits")
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC = 1, 2, 4, 8
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (added after the syscall tables were unified)
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "ppc64le": 203, "s390x": 217}
GiB = 1024**3
FIRST_SANDBOX_UID = 200_000
LAST_SANDBOX_UID = FIRST_SANDBOX_UID + 4_194_304  # pid_max can be at most 2**22
CGROUP_PREFIX = "cnn-sandbox-"

DEFAULT_LIMITS = {
    "memory_bytes": 4 * GiB,  # RLIMIT_AS: per process (CPU torch needs ~0.7 GiB after import)
    "total_memory_bytes": 4 * GiB,  # all processes of a child together (its memory cgroup, where the machine has one)
    "cpu_seconds": 300,
    "file_bytes": 16 * 1024 * 1024,
    "processes": 32,
    "open_files": 256,
    "tmp_bytes": 64 * 1024 * 1024,
    "cuda_memory_fraction": 0.5,  # of each GPU, per child; two workers share a GPU
}

# Host directories the sandbox sees (read-only), besides the interpreter, the venv and the grader package.
SYSTEM_DIRECTORIES = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc")
# The only device nodes it gets: harmless ones, and GPUs (NVIDIA's nodes; AMD's kfd and dri).
DEVICE_NODES = ("null", "zero", "full", "random", "urandom")
GPU_DEVICE_PATTERNS = ("nvidia*", "kfd", "dri")
DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                "stderr": "/proc/self/fd/2"}
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "arm64": 219, "ppc64le": 271, "s390x": 280}
KEYCTL_JOIN_SESSION_KEYRING = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class IsolationError(OSError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {target}")


def set_death_signal(sig: int = signal.SIGKILL) -> None:
    _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def can_isolate() -> bool:
    """Namespaces and mounts need root here (see the module docstring)."""
    return os.geteuid() == 0 and sys.platform == "linux"


def _in_throwaway_child(attempt) -> bool:
    """Run ``attempt()`` in a forked child; True when it returned without raising."""
    pid = os.fork()
    if pid == 0:
        try:
            attempt()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def probe() -> bool:
    """Can a child of this process build the full (root) sandbox here? (Forks a throwaway child to find out.)"""
    if not can_isolate() or platform.machine() not in SYS_PIVOT_ROOT:
        return False

    def attempt() -> None:
        _check(_libc.unshare(NAMESPACES), "unshare")
        mount("none", "/", None, MS_REC | MS_PRIVATE)
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k")

    return _in_throwaway_child(attempt)


def probe_userns() -> bool:
    """Can a child build the sandbox inside a user namespace of its own (no root needed)?

    Tries what ``enter`` will do: the namespaces, the id maps, a tmpfs, and a
    fresh /proc from PID 1 of the new PID namespace (a kernel refuses that
    where the host's /proc is partly masked, as in some containers).
    """
    if sys.platform != "linux" or platform.machine() not in SYS_PIVOT_ROOT or os.geteuid() == 0:
        return False

    def attempt() -> None:
        enter_user_namespace(*userns_ids())
        pid = os.fork()
        if pid == 0:
            try:
                mount("none", "/", None, MS_REC | MS_PRIVATE)
                mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k")
                os.mkdir("/tmp/proc")
                mount("proc", "/tmp/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                os._exit(0)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise IsolationError("no sandbox in a user namespace")

    return _in_throwaway_child(attempt)


def choose_mode(requested: str = "auto") -> str:
    """The strongest sandbox this machine allows ("auto"), or the one asked for ("root", "userns"), or an error."""
    if requested not in ("auto", "root", "userns"):  # "limits" is only ever a fallback: as root it would be none
        raise IsolationError(22, f"unknown sandbox mode {requested!r}: use auto, root or userns")
    if requested in ("auto", "root") and probe():
        return "root"
    if requested in ("auto", "userns") and probe_userns():
        return "userns"
    if requested == "auto":
        return "limits"
    raise IsolationError(1, f"the {requested!r} sandbox is not available here: "
                            + ("it needs root" if requested == "root" else
                               "it is for graders without root, on a kernel that allows user namespaces"))


def userns_ids() -> tuple[int, int]:
    """The ids a user-namespace child keeps: the grader's own (the only ones it may map)."""
    return os.geteuid(), os.getegid()


def enter_user_namespace(uid: int, gid: int) -> None:
    """New user namespace (owning the other new namespaces) in which only this process's own uid/gid exist."""
    if os.geteuid() == 0:  # mapping root to itself would leave the child root on the host's files
        raise IsolationError(1, "the user-namespace sandbox is for graders that do not run as root")
    _check(_libc.unshare(CLONE_NEWUSER | NAMESPACES), "unshare")
    map_ids(uid, gid)


def map_ids(uid: int, gid: int) -> None:
    """In a fresh user namespace: map ``uid``/``gid`` to themselves, nothing else (no other uid exists inside)."""
    Path("/proc/self/setgroups").write_text("deny", encoding="ascii")  # required before gid_map without root
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1\n", encoding="ascii")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1\n", encoding="ascii")


def drop_capabilities() -> None:
    """Clear every capability (the creator of a user namespace holds them all inside it), bounding set too."""
    for cap in range(64):
        if _libc.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # PR_CAPBSET_DROP; EINVAL: no such cap
            break
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def sandbox_uid(zygote_pid: int) -> int:
    """A uid per concurrent zygote: RLIMIT_NPROC counts per uid, and no two sandboxes may share files."""
    return FIRST_SANDBOX_UID + zygote_pid


def is_sandbox_uid(uid: int) -> bool:
    return FIRST_SANDBOX_UID <= uid < LAST_SANDBOX_UID


def close_other_fds(keep: socket.socket) -> None:
    """Leave the child only stdin/stdout/stderr (pointed at /dev/null) and its own socket."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.closerange(3, keep.fileno())
    os.closerange(keep.fileno() + 1, 65536)


def reset_signals() -> None:
    """The zygote's own handlers (SIGTERM cleanup, ignored SIGCHLD) must not leak into a child."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def enter_pid_namespace() -> None:
    """Fork once more after unshare(CLONE_NEWPID): the new process is PID 1 of the sandbox.

    The middle process runs no student code: it only waits and passes on the
    exit status. The worker kills PID 1 itself (found as the middle process's
    only child); when PID 1 dies the kernel kills every process left in the
    namespace, whatever they did to their death signal or process group.
    """
    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    set_death_signal()


def sandbox_pid_of(middle_pid: int) -> list[int]:
    """The host pid of a child's PID 1: the only child of the middle process the zygote forked."""
    try:
        with open(f"/proc/{middle_pid}/task/{middle_pid}/children", encoding="ascii") as handle:
            return [int(p) for p in handle.read().split()]
    except (OSError, ValueError):
        return []


# --- cgroups per slot (best effort) -------------------------------------------------------------------------
# The zygote joins its slot's cgroups once (``enter_slot``): its children are then born inside them. Joining in
# every child would cost ~12 ms each (a cgroup v1 attach waits for RCU grace periods). The zygote's own pages
# (torch, shared copy-on-write with its children) count towards the bound; it is shielded from the OOM killer
# there, and every sandboxed process is made its first choice (oom_score_adj 1000).
CGROUP_CONTROLLERS = ("memory", "cpu")  # memory: one bound for all the child's processes; cpu: one fair share


def _cgroup_dirs(uid: int) -> list[tuple[str, str, Path]]:
    """(version, controller, directory) of slot ``uid``'s cgroups, next to this process's (or its slot's) cgroup."""
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
                            found.append(("v1", controller, mount_dir / rel / f"{CGROUP_PREFIX}{uid}"))
                            break
        elif Path("/sys/fs/cgroup/cgroup.controllers").exists():  # cgroup v2, where the parent delegates controllers
            base = Path("/sys/fs/cgroup") / rel
            try:
                enabled = (base / "cgroup.subtree_control").read_text(encoding="ascii").split()
            except OSError:
                enabled = []
            for controller in CGROUP_CONTROLLERS:
                if controller in enabled:
                    found.append(("v2", controller, base / f"{CGROUP_PREFIX}{uid}"))
    return found


def set_memory_bound(uid: int, limit: int) -> bool:
    """Set slot ``uid``'s bound on the memory of all its processes together (a file write, no attach)."""
    done = False
    for version, controller, directory in _cgroup_dirs(uid):
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


def enter_slot(uid: int, memory_limit: int) -> list[str]:
    """Move this zygote into its slot's cgroups (created here); returns the controllers joined."""
    remove_stale_cgroups()
    joined = []
    for _, controller, directory in _cgroup_dirs(uid):
        try:
            directory.mkdir(exist_ok=True)
            (directory / "cgroup.procs").write_text("0", encoding="ascii")
            joined.append(controller)
        except OSError:
            continue
    if "memory" in joined:
        set_memory_bound(uid, memory_limit)
        set_oom_score_adj(-1000)  # inside its slot the zygote is never the OOM victim (its children are)
    return joined


def leave_slot(uid: int, wait: float = 2.0) -> None:
    """Move this zygote back to its parent cgroups and remove the slot's, once its last (killed) process is gone."""
    import time

    deadline = time.monotonic() + wait
    for _, _, directory in _cgroup_dirs(uid):
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
                zygote_pid = int(stale.name[len(CGROUP_PREFIX):]) - FIRST_SANDBOX_UID
            except ValueError:
                continue
            if zygote_pid > 0 and not os.path.exists(f"/proc/{zygote_pid}"):
                try:
                    stale.rmdir()
                except OSError:
                    pass


def kill_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid``, from a helper that takes that uid (kill(-1) then reaches just them)."""
    if not is_sandbox_uid(uid) or os.geteuid() != 0:
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:
            pass
        os._exit(0)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # SIGCHLD ignored: the kernel reaped it
        pass


# --- the file system -------------------------------------------------------------------------------------------
def _needed_paths(config: dict) -> list[Path]:
    """What the sandboxed interpreter must still read: Python itself, the venv, the grader package."""
    import grader

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(grader.__file__).resolve().parent}
    paths.update(Path(p) for p in sys.path if p and "site-packages" in p and Path(p).is_dir())
    paths.update(Path(p) for p in config.get("expose", []) if Path(p).exists())
    return sorted({p.resolve() for p in paths})


def _outermost(paths: list[Path]) -> list[Path]:
    """Drop every path that lies inside another one of the list."""
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(k == path or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _set_read_only(target: str, attrs: int) -> None:
    """Make ``target`` and every mount below it read-only (mount_setattr, Linux >= 5.12; else remount one by one)."""
    attr = _MountAttr(attrs, 0, 0, 0)
    if _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, target.encode(), AT_RECURSIVE, ctypes.byref(attr),
                     ctypes.sizeof(attr)) == 0:
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


def device_nodes() -> list[Path]:
    """The host's device nodes the sandbox's /dev holds (those that exist here)."""
    found = [Path("/dev") / name for name in DEVICE_NODES]
    for pattern in GPU_DEVICE_PATTERNS:
        found += sorted(Path("/dev").glob(pattern))
    return [p for p in found if p.exists() and not p.is_symlink()]


def build_file_system(config: dict, limits: dict) -> None:
    """Pivot into a new root that holds only the allow-listed host directories (see the module docstring)."""
    os.umask(0o022)
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    needed = _needed_paths(config)
    system = [Path(d) for d in SYSTEM_DIRECTORIES if os.path.isdir(d) and not os.path.islink(d)]
    links = {d: os.readlink(d) for d in SYSTEM_DIRECTORIES if os.path.islink(d)}
    binds = _outermost(system + needed) + [Path("/sys")] + device_nodes()
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
        os.symlink(points_to, new + link)
    for link, points_to in DEVICE_LINKS.items():
        os.symlink(points_to, f"{new}/dev/{link}")
    os.mkdir(new + "/dev/shm")
    mount("none", new + "/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    mount("tmpfs", new + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
    mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # this PID namespace's processes only
    os.chdir(new)
    os.mkdir(".old")
    _check(_libc.syscall(SYS_PIVOT_ROOT[platform.machine()], b".", b".old"), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount the old root")
    os.rmdir("/.old")
    # Paths the configuration hides that an allow-listed directory still shows (a project kept under /usr, say).
    root_device = os.stat("/").st_dev
    for path in sorted({Path(p) for p in config.get("hide", [])}, key=lambda p: len(p.parts)):
        if path.is_dir() and os.stat(path).st_dev != root_device:
            hide(path, needed)
    mount("none", "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


# --- limits and privileges ---------------------------------------------------------------------------------
def leave_session_keyring() -> None:
    """Join a new, empty session keyring: the inherited one is the grader's (its keys are "possessed" by anyone
    holding it, whatever their uid). Best effort: some container profiles block keyctl, and then there is none."""
    number = SYS_KEYCTL.get(platform.machine())
    if number is not None:
        _libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None)


def apply_limits(limits: dict, uses_cuda: bool) -> None:
    if not uses_cuda:  # CUDA reserves a huge address space: RLIMIT_AS would break it (the cgroup bounds it instead)
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))


def drop_privileges(uid: int, gid: int | None = None, *, in_userns: bool = False) -> None:
    if not in_userns:  # in a user namespace, setgroups is denied (map_ids) and the groups are the grader's own
        os.setgroups([])
    gid = uid if gid is None else gid
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if in_userns:
        drop_capabilities()  # the creator of a user namespace holds every capability inside it; no uid change drops them
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    set_death_signal()  # setuid cleared it


def bound_cuda_memory(fraction: float) -> None:
    """Cap this process's share of each GPU when (and only if) CUDA gets initialised.

    ``set_per_process_memory_fraction`` itself initialises CUDA (a context costs
    hundreds of milliseconds), so it is queued with ``torch.cuda._lazy_call``:
    it runs inside CUDA's own lazy initialisation, never on a machine without
    a GPU, never in a child that does not use one. It bounds the caching
    allocator of this process; it is a guard against runaway allocations, not
    against code that calls it again itself (only MIG or MPS limits are).
    """
    import torch

    def bound() -> None:
        for device in range(torch.cuda.device_count()):
            torch.cuda.set_per_process_memory_fraction(fraction, device)

    if hasattr(torch.cuda, "_lazy_call"):
        torch.cuda._lazy_call(bound)


def enter(config: dict, sock: socket.socket) -> None:
    """Isolate this freshly forked child; raises if isolation was asked for and failed."""
    limits = {**DEFAULT_LIMITS, **config.get("limits", {})}
    os.setsid()  # its own process group: the worker kills the whole group
    leave_session_keyring()
    set_death_signal()
    reset_signals()
    close_other_fds(sock)
    mode = config.get("mode", "root") if config.get("isolate", True) else "limits"
    if mode == "root" and not can_isolate():
        mode = "limits"
    zygote_pid = int(config["zygote_pid"])
    uid, gid = userns_ids() if mode == "userns" else (sandbox_uid(zygote_pid),) * 2
    if mode != "limits":
        set_oom_score_adj(1000)  # the first choice of any OOM killer, in the slot's cgroup or on the whole machine
        set_memory_bound(sandbox_uid(zygote_pid), int(limits["total_memory_bytes"]))  # the zygote joined its cgroups
        if mode == "userns":
            enter_user_namespace(uid, gid)
        else:
            _check(_libc.unshare(NAMESPACES), "unshare")
        enter_pid_namespace()
        build_file_system(config, limits)
        os.chdir("/tmp")
    elif config.get("scratch"):
        os.chdir(config["scratch"])
    apply_limits(limits, bool(config.get("cuda")))
    if mode != "limits":
        drop_privileges(uid, gid, in_userns=mode == "userns")
    os.environ["HOME"] = "/tmp"
    if config.get("cuda"):
        bound_cuda_memory(float(limits["cuda_memory_fraction"]))
