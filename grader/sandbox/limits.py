"""Resource limits and the unprivileged identity a child runs under.

Each concurrent slot (one zygote) owns a uid of its own: ``RLIMIT_NPROC``
counts per uid, a uid cannot signal or trace another one, and everything a
uid left behind can be found and killed when its unit ends. Slot uids are
taken from inside this process's ``/proc/self/uid_map`` (a container often
maps only 65,536 ids) and claimed with a lock, so two zygotes never share one.
"""
from __future__ import annotations

import fcntl
import os
import resource
import signal
import stat
from pathlib import Path

from grader.sandbox.syscalls import drop_capabilities, set_death_signal, set_no_new_privs

GiB = 1024**3
PID_MAX = 4_194_304  # pid_max can be at most 2**22: with as many ids, uid = first + pid never collides
PREFERRED_FIRST_UID = 200_000

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


# --- slot uids ----------------------------------------------------------------------------------------------
def uid_extents(text: str | None = None) -> list[tuple[int, int]]:
    """The ranges [first, end) of uids that exist in this user namespace (``/proc/self/uid_map``)."""
    if text is None:
        try:
            text = Path("/proc/self/uid_map").read_text(encoding="ascii")
        except OSError:
            text = f"0 0 {2**32 - 1}"
    extents = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            inside, _outside, count = map(int, parts)
            extents.append((inside, inside + count))
    return extents


def slot_uid_range(text: str | None = None) -> tuple[int, int]:
    """[first, end) of the uids slots may use: 200,000 + pid where the map allows, else the top half of the
    largest mapped range, below 65534 (nobody) and 65535 ((uid_t) -1 in 16 bits)."""
    extents = uid_extents(text)
    for inside, end in extents:
        if inside <= PREFERRED_FIRST_UID and PREFERRED_FIRST_UID + PID_MAX <= end:
            return PREFERRED_FIRST_UID, PREFERRED_FIRST_UID + PID_MAX
    inside, end = max(extents, key=lambda e: e[1] - e[0], default=(0, 65536))
    first = max(inside + 1, inside + (end - inside) // 2)
    end = min(end, 65534) if first < 65534 else end  # not nobody (65534), not 65535 ((uid_t) -1 in 16 bits)
    return first, max(first + 1, end)


def is_sandbox_uid(uid: int) -> bool:
    first, end = slot_uid_range()
    return first <= uid < end


def _lock_directory() -> Path:
    """A directory only this (root) user can write: where slots are claimed."""
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"cnn-grader-slots-{os.geteuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path} is not a private directory of this user: slots cannot be claimed there")
    return path


def claim_slot_uid(pid: int) -> tuple[int, int]:
    """A slot uid no other live zygote holds: (uid, fd of the lock to keep open for this zygote's lifetime)."""
    first, end = slot_uid_range()
    span = end - first
    directory = _lock_directory()
    for step in range(span):
        uid = first + (pid + step) % span
        fd = os.open(directory / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        kill_uid(uid)  # whatever a zygote killed before its clean-up left under this uid
        return uid, fd
    raise OSError(f"all {span} slot uids are taken")


def kill_all_as(uid: int) -> None:
    """In a forked process about to exit: take ``uid`` for good, then SIGKILL every process of it (kill(-1)
    reaches exactly the processes this uid may signal, however many were forked meanwhile). Also the body of
    ``grader.sandbox.uid_killer``'s helper, which runs this function's source."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:  # no process of the uid was left
        pass


def kill_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid``, from a forked child that takes that uid (``kill_all_as``)."""
    if not is_sandbox_uid(uid) or os.geteuid() != 0:
        return
    pid = os.fork()
    if pid == 0:
        try:
            kill_all_as(uid)
        except BaseException:
            pass
        os._exit(0)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # SIGCHLD ignored: the kernel reaped it
        pass


# --- limits and privileges ----------------------------------------------------------------------------------
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


def become(uid: int, gid: int | None = None, *, in_userns: bool = False) -> None:
    """Take ``uid``/``gid`` for good (real, effective and saved ids; no supplementary groups)."""
    if not in_userns:  # in a user namespace, setgroups is denied (map_ids) and the groups are the grader's own
        os.setgroups([])
    gid = uid if gid is None else gid
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    set_death_signal()  # setuid cleared it


def drop_privileges(uid: int, gid: int | None = None, *, in_userns: bool = False) -> None:
    become(uid, gid, in_userns=in_userns)
    if in_userns:
        drop_capabilities()  # the creator of a user namespace holds every capability inside it; no uid change drops them
    set_no_new_privs()


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
