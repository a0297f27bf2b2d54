"""The attack corpus, graded for real: one class with every attacker, its honest twin and bystanders.

Each file in ``tests/attacks/`` is the source of one cell that tries to cheat
or break out (its docstring says how). The session fixture builds ONE class
folder in which student ``a_<attack>`` submits an honest notebook plus that
cell (as an extra solution cell, so it runs in full), ``h_<base>`` submits
the same honest notebook without it, and ``z_*`` bystanders (graded after
them) submit ordinary notebooks; the real coordinator (``GradeRun``, two
spawned workers, short limits) grades it, then grades a second folder
without the attackers. The tests then check, per attack, that it earned no
more than its honest twin, ran, leaked nothing and was flagged for review,
and, for the run as a whole, that it completed, that every bystander's and
twin's score equals the run without attackers, that no file outside the
run's grades/ changed, that the listener on 127.0.0.1 heard nothing, that
nothing was planted in the host's /tmp or /dev/shm, that a bystander cannot
read the secret files, and that no process is left behind.

All of it four times, once per sandbox: graded as root (the full sandbox: a
uid per slot, cgroups); by an unprivileged user, as a TA without root grades
(the sandbox in a user namespace; ``unprivileged.py``); and as root in an
emulated ordinary container, with Docker's default capabilities (the
``container`` sandbox), and with those plus Docker's seccomp rule against
namespaces (the ``uid`` sandbox; both ``container.py``), where the grader
must find its sandbox by itself. Each run is skipped, with the reason, where
it cannot be set up.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from rich.console import Console

from grader.course import project_root
from grader.sandbox import cgroups, limits, modes, rootfs
from grader.sandbox.limits import is_sandbox_uid
from grader.scan import scan_source
from grader.wire import Op, request

ROOT = project_root()
ASSIGNMENT = "densenet"
ATTACK_DIR = Path(__file__).resolve().parent / "attacks"
ATTACKS = sorted(p.stem for p in ATTACK_DIR.glob("*.py") if p.name != "__init__.py")

# Attacks that fake structure need an honest twin whose structure is wrong (a DenseLayer whose convs have biases).
WRONG_ARCHITECTURE = {"fake_count_public_api", "fake_describe", "fake_describe_consistent"}
# Attacks whose cell never finishes (they are stopped by the wall-clock kill).
HANGS = {"signal_timer_tricks", "infinite_loop_swallow", "fork_bomb"}
# Known limits, each with the change (outside the sandbox) that closes it; strict: a fix makes these fail loudly.
KNOWN_SCORE_GAPS: dict[str, str] = {}
KNOWN_LEAKS: dict[str, str] = {}
# What a sandbox mode is known to let an attack see, by mode and attack: (the success lines it may print, why).
# Strict too: a mode that closes the gap fails until the entry goes.
KNOWN_REACH: dict[str, dict[str, tuple[str, str]]] = {
    "container-no-userns": {"proc_snooping": (
        r"ATTACK-SUCCESS: read cmdline of \d+ processes, e\.g\. .*",
        "without a PID namespace (or /proc mounted with hidepid, which needs CAP_SYS_ADMIN) every process's "
        "command line is world-readable; its environment, memory and working directory are not")},
}

# The cgroup bound on all of a child's processes together is lowered so that fork_memory_bomb hits it within 3 s.
SETTINGS = dict(cell_timeout=3, call_timeout=5, submission_budget=40,
                sandbox={"limits": {"total_memory_bytes": 3 * 2**29}})
MARKER = "attack-marker"

# Not run without a memory cgroup (the user-namespace sandbox, unless the user's cgroup is delegated): only
# RLIMIT_AS bounds each process, so 32 processes of 4 GiB could exhaust a CI machine before the OOM killer acts.
NEEDS_MEMORY_CGROUP = {"fork_memory_bomb"}

needs_root_sandbox = pytest.mark.skipif(not modes.can_isolate() or not modes.probe(),
                                        reason="the full sandbox needs root (namespaces, mounts, uids); without it "
                                               "the attack corpus could harm this machine")


# --------------------------------------------------------------------------------------------------------------
# notebooks
# --------------------------------------------------------------------------------------------------------------
def _cell_source(nb, grade_id: str) -> str:
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source
    raise KeyError(grade_id)


def _with(nb, replace: dict[str, str], extra: tuple[str, str] | None = None, canary: str | None = None):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in replace:
            cell.source = replace[grade_id]
        if canary and grade_id == "dense_layer":
            cell.source += f"\n# {canary}\n"
    if extra:
        name, source = extra
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
            "solution": True, "grade": False, "locked": False, "grade_id": f"extra_{name}", "schema_version": 3}}))
    return nb


def honest_bases() -> dict[str, nbformat.NotebookNode]:
    solution = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    stub = nbformat.read(ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    partial = _with(solution, {
        # geometric growth instead of linear, max pooling instead of average, DenseNet not written yet
        "dense_channels": "def dense_channels(in_channels, num_layers, growth_rate):\n"
                          "    return in_channels * 2 ** num_layers\n",
        "transition": _cell_source(solution, "transition").replace("nn.AvgPool2d", "nn.MaxPool2d"),
        "densenet": _cell_source(stub, "densenet"),
    })
    wrong = _with(solution, {"dense_layer": _cell_source(solution, "dense_layer").replace("bias=False", "bias=True")})
    return {"partial": partial, "wrongarch": wrong, "solution": solution, "stub": stub}


PROBE = '''
import ctypes, glob, os, sys
found = [p for pattern in ("/tmp/*", "/var/tmp/*", "/dev/shm/*", "/dev/*marker*") for p in glob.glob(pattern)]
for directory in sys.path:
    found += glob.glob(os.path.join(directory, "*attack*")) + glob.glob(os.path.join(directory, "*customize.py"))
found += glob.glob(os.path.expanduser("~/.ipython/profile_default/startup/*"))
# the sandbox's own read-only mounts (interpreter, venv, grader) show up here when the checkout lives under /tmp
own = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.abspath(__import__("grader").__file__)))]
found = [p for p in found if not any(k == p or k.startswith(p.rstrip("/") + "/") for k in own)]
libc = ctypes.CDLL(None)
if libc.shmget(0xC0FFEE, 0, 0) >= 0 or libc.semget(0xC0FFEE, 0, 0) >= 0:
    found.append("System V IPC object")
print("PROBE-FOUND" if found else "PROBE-CLEAN", found[:5])
'''

# The secret files of the run, tried by an honest-looking cell: the solutions, the hidden tests, the run's grades
# folder and another student's notebook (each path is filled in by build_class).
SECRETS_PROBE = '''
import os
readable = []
for path in {paths!r}:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        readable.append(path)
    except OSError:
        pass
print("SECRETS-READABLE" if readable else "SECRETS-HIDDEN", readable)
'''


def attack_source(name: str, port: int) -> str:
    source = (ATTACK_DIR / f"{name}.py").read_text(encoding="utf-8")
    return re.sub(r"^LISTENER_PORT = 0\b", f"LISTENER_PORT = {port}", source, flags=re.M)


def build_class(folder: Path, port: int, attacks: list[str], canaries: dict[str, str]) -> Path:
    bases = honest_bases()
    submissions = folder / "submissions"
    secret_paths = [str(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                    str(ROOT / "autograde_tests" / f"test_{ASSIGNMENT}.py"), str(ROOT / "solutions"),
                    str(folder / "grades"), str(submissions / "z_solution" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")]
    probe = PROBE + SECRETS_PROBE.format(paths=secret_paths)
    students = {"h_partial": bases["partial"], "h_wrongarch": bases["wrongarch"],
                "z_solution": _with(bases["solution"], {}, canary=canaries["z_solution"]),
                "z_stub": _with(bases["stub"], {}, canary=canaries["z_stub"]),
                "z_persistence_probe": _with(bases["solution"], {}, extra=("probe", probe),
                                             canary=canaries["z_persistence_probe"])}
    for name in attacks:
        base = bases["wrongarch" if name in WRONG_ARCHITECTURE else "partial"]
        students[f"a_{name}"] = _with(base, {}, extra=(name, attack_source(name, port)))
    for student, nb in students.items():
        path = submissions / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
    if "symlink_escape" in attacks:  # links a student could put in a zip: to the hidden tests, the solutions, another student
        where = submissions / "a_symlink_escape" / ASSIGNMENT
        (where / "tests_link").symlink_to(ROOT / "autograde_tests")
        (where / "solutions_link").symlink_to(ROOT / "solutions")
        (where / "peer").symlink_to(Path("..") / ".." / "z_solution")
        (where / "timestamp.txt").symlink_to(ROOT / "autograde_tests" / f"test_{ASSIGNMENT}.py")
    return submissions


# --------------------------------------------------------------------------------------------------------------
# what the run must not change
# --------------------------------------------------------------------------------------------------------------
def tree_hashes(top: Path, skip: tuple[str, ...] = (".venv", ".git", "__pycache__")) -> dict[str, str]:
    found = {}
    for directory, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for name in dirs + files:
            path = Path(directory) / name
            rel = str(path.relative_to(top))
            if path.is_symlink():
                found[rel] = "link:" + os.readlink(path)
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def python_dirs_listing() -> dict[str, float]:
    """Names and mtimes where a planted .pth / sitecustomize would be picked up by later interpreters."""
    import site
    import sysconfig

    listing = {}
    for directory in {*site.getsitepackages(), sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}:
        for entry in os.scandir(directory):
            listing[entry.path] = entry.stat(follow_symlinks=False).st_mtime
    return listing


def host_markers() -> list[str]:
    found = []
    for directory in ("/tmp", "/var/tmp", "/dev/shm", "/dev", Path.home(), Path.home() / ".ipython/profile_default"
                      / "startup"):
        try:
            found += [str(Path(directory) / n) for n in os.listdir(directory) if MARKER in n or "attack" in n]
        except OSError:
            pass
    return found


PF_KTHREAD = 0x00200000  # the "flags" field of /proc/PID/stat


def _status(pid: str) -> dict[str, str]:
    fields = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read().rsplit(")", 1)[1].split()
        fields["sid"], fields["kernel_thread"] = stat[3], str(bool(int(stat[6]) & PF_KTHREAD))
    except (OSError, IndexError, ValueError):
        return {}
    return fields


def processes() -> dict[int, dict[str, str]]:
    """Live user-space processes. Kernel threads are left out: they share session 0 with anything started without
    a session of its own (a CI runner's jobs are), and the kernel starts new ones (kworkers) at any moment."""
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            fields = _status(pid)
            if fields and fields["kernel_thread"] == "False" and not fields.get("State", "").startswith(("Z", "X")):
                found[int(pid)] = fields
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> None:
    """Make this test process a child subreaper: a process the grader started that daemonises (double fork)
    is then re-parented here instead of to init, so it still counts as one of ours (``descendants``)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def descendants(everything: dict[int, dict[str, str]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, fields in everything.items():
        children.setdefault(int(fields.get("PPid", 0)), []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def leftovers(before: set[int], slot_uids: set[int]) -> list[str]:
    """Processes the grader started that are still alive: this test process's descendants (orphans included,
    see ``adopt_orphans``) that were not there before the run, and any process of a slot uid this run used.
    Other jobs on the machine (other test sessions, a CI runner's helpers) are not counted."""
    everything = processes()
    ours = descendants(everything, os.getpid()) - before
    bad = []
    for pid, fields in everything.items():
        uid = int(fields.get("Uid", "0").split()[0])
        if pid in ours and "multiprocessing.resource_tracker" not in _cmdline(pid):
            # (the coordinator's resource tracker is this test process's own helper; it ends with the process)
            bad.append(f"{pid} (started by the grader): {_cmdline(pid)} (parent {fields.get('PPid')})")
        elif uid in slot_uids:
            bad.append(f"{pid} slot uid {uid}: {_cmdline(pid)} (parent {fields.get('PPid')})")
    return bad


class UidMonitor:
    """Samples /proc during a run: which slot uids are alive at once, and under which of this run's zygotes."""

    def __init__(self):
        self.samples: list[dict[int, set[int]]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            everything = processes()
            ours = descendants(everything, os.getpid())
            sample: dict[int, set[int]] = {}
            for pid in ours:
                uid = int(everything.get(pid, {}).get("Uid", "0").split()[0])
                if is_sandbox_uid(uid):
                    zygote = self._zygote_of(pid, everything)
                    if zygote:
                        sample.setdefault(uid, set()).add(zygote)
            if sample:
                self.samples.append(sample)
            time.sleep(0.05)

    @staticmethod
    def _zygote_of(pid: int, everything: dict) -> int | None:
        """The topmost ancestor running the zygote's command line (the middle processes run it too)."""
        found, current = None, pid
        for _ in range(64):
            parent = int(everything.get(current, {}).get("PPid", 0))
            if parent not in everything:
                break
            if "grader.sandbox.zygote" in _cmdline(parent) and everything[parent].get("Uid", "").split()[0] == "0":
                found = parent
            current = parent
        return found

    @property
    def uids(self) -> set[int]:
        return {uid for sample in self.samples for uid in sample}

    def close(self):
        self.stop.set()
        self.thread.join(2)


class Listener:
    """A real TCP (and UDP) listener on 127.0.0.1 that records anything that reaches it."""

    def __init__(self):
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.heard: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True),
                        threading.Thread(target=self._datagrams, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, peer = self.tcp.accept()
            except OSError:
                continue
            conn.settimeout(0.5)
            try:
                self.heard.append(f"tcp from {peer}: {conn.recv(200)!r}")
            except OSError:
                self.heard.append(f"tcp from {peer}")
            conn.close()

    def _datagrams(self):
        while not self.stop.is_set():
            try:
                data, peer = self.udp.recvfrom(200)
                self.heard.append(f"udp from {peer}: {data!r}")
            except OSError:
                continue

    def close(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(2)
        self.tcp.close()
        self.udp.close()


# --------------------------------------------------------------------------------------------------------------
# the two runs
# --------------------------------------------------------------------------------------------------------------
def grade_class(submissions: Path, out: Path) -> tuple[dict[str, dict], float]:
    """Graded in this process (as root): the full sandbox."""
    from grader.run import GradeRun
    from grader.unit import Settings

    started = time.monotonic()
    results = GradeRun(submissions=submissions, out=out, workers=2, settings=Settings(**SETTINGS),
                       console=Console(stderr=True, quiet=True)).run()
    return {r.student_id: r.to_dict() for r in results}, time.monotonic() - started  # as the unprivileged run


def grade_class_unprivileged(submissions: Path, out: Path) -> tuple[dict[str, dict], float]:
    """Graded by an unprivileged user: the user-namespace sandbox."""
    from unprivileged import Unavailable, grade_unprivileged

    try:
        return grade_unprivileged(submissions, out, SETTINGS)
    except Unavailable as err:
        pytest.skip(f"no user-namespace sandbox here: {err}")


def _sandbox_run(mode: str) -> tuple:
    """(attacks in the class, grading function) of one of the runs."""
    if mode == "root":
        if not (modes.can_isolate() and modes.probe()):
            pytest.skip("the full sandbox needs root (namespaces, mounts, uids); without it the attack corpus "
                        "could harm this machine")
        return ATTACKS, grade_class
    if mode == "userns":
        return [a for a in ATTACKS if a not in NEEDS_MEMORY_CGROUP], grade_class_unprivileged
    return [a for a in ATTACKS if a not in NEEDS_MEMORY_CGROUP], lambda subs, out: grade_class_in_container(
        mode, subs, out)


def grade_class_in_container(kind: str, submissions: Path, out: Path) -> tuple[dict[str, dict], float]:
    """Graded as root with Docker's default capabilities (and, for "container-no-userns", Docker's seccomp rule
    against namespaces): the grader finds its sandbox by itself."""
    from container import Unavailable, grade_in_container

    try:
        return grade_in_container(kind, submissions, out, SETTINGS)
    except Unavailable as err:
        pytest.skip(f"no emulated container here: {err}")


# The sandbox each run must end up with, by the start of its results' "sandbox" field (no quiet fallback).
EXPECTED_SANDBOX = {"root": "full", "userns": "user namespaces", "container": "container",
                    "container-no-userns": "separate uid"}


@pytest.fixture(scope="session", params=list(EXPECTED_SANDBOX), ids=[f"{m}-sandbox" for m in EXPECTED_SANDBOX])
def class_runs(request, tmp_path_factory):
    mode = request.param
    attacks, grade = _sandbox_run(mode)
    listener = Listener()
    canaries = {s: f"canary-{s}-{secrets.token_hex(8)}" for s in ("z_solution", "z_stub", "z_persistence_probe")}
    attacked_dir = tmp_path_factory.mktemp(f"attacked-class-{mode}")
    clean_dir = tmp_path_factory.mktemp(f"clean-class-{mode}")
    attacked = build_class(attacked_dir, listener.port, attacks, canaries)
    clean = build_class(clean_dir, listener.port, [], canaries)
    repo_before, subs_before = tree_hashes(ROOT), tree_hashes(attacked)
    python_before, markers_before = python_dirs_listing(), set(host_markers())
    adopt_orphans()
    before = descendants(processes(), os.getpid())
    monitor = UidMonitor()
    try:
        results, seconds = grade(attacked, attacked_dir / "grades")
        monitor.close()
        attack_end = time.monotonic()
        baseline, baseline_seconds = grade(clean, clean_dir / "grades")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - attack_end)))  # the daemons' 2 s sleep is over
        deadline, left = time.monotonic() + 15, ["?"]
        while left and time.monotonic() < deadline:
            left = leftovers(before, monitor.uids)
            time.sleep(0.2) if left else None
    finally:
        listener.close()
        monitor.close()
    slowest = sorted(results.values(), key=lambda r: -r.get("seconds", 0))[:8]
    print(f"\nattack corpus ({mode} sandbox): {len(attacks)} attacks; graded {len(results)} units in {seconds:.1f} s, "
          f"baseline {len(baseline)} units in {baseline_seconds:.1f} s; slowest: "
          + ", ".join(f"{r['student_id']} {r.get('seconds', 0):.1f}" for r in slowest), file=sys.stderr)
    if os.environ.get("ATTACK_REPORT"):  # for people: ATTACK_REPORT=path.json pytest ... writes path-<mode>.json
        report = Path(os.environ["ATTACK_REPORT"])
        report.with_name(f"{report.stem}-{mode}{report.suffix}").write_text(json.dumps({
            "seconds": seconds, "baseline_seconds": baseline_seconds, "results": {
                sid: {k: r.get(k) for k in ("score", "max_score", "status", "cells", "student_output", "review_reasons",
                                            "tests", "timestamp")} for sid, r in {**results, **{
                                                "baseline_" + k: v for k, v in baseline.items()}}.items()}},
            indent=1), encoding="utf-8")
    hidden_tests = (ROOT / "autograde_tests" / f"test_{ASSIGNMENT}.py").read_text(encoding="utf-8")
    secret_texts = [hidden_tests.strip().splitlines()[0].strip('"\' ')[:40], "def test_dense_layer_parameters",
                    "### BEGIN SOLUTION", "SQLite format 3", *canaries.values()]
    return {
        "mode": mode, "attacks": attacks,
        "results": results, "baseline": baseline, "heard": list(listener.heard), "leftovers": left,
        "repo_changed": sorted(set(repo_before.items()) ^ set(tree_hashes(ROOT).items())),
        "submissions_changed": sorted(set(subs_before.items()) ^ set(tree_hashes(attacked).items())),
        "python_changed": sorted(set(python_before.items()) ^ set(python_dirs_listing().items())),
        "markers": sorted(set(host_markers()) - markers_before), "secrets": secret_texts,
        "uid_samples": monitor.samples,
    }


# --------------------------------------------------------------------------------------------------------------
# per attack
# --------------------------------------------------------------------------------------------------------------
def _twin(name: str) -> str:
    return "h_wrongarch" if name in WRONG_ARCHITECTURE else "h_partial"


def _attacker(class_runs: dict, name: str) -> dict:
    """The attacker's result; an attack this run leaves out (see NEEDS_MEMORY_CGROUP) is skipped, with why."""
    if name not in class_runs["attacks"]:
        pytest.skip(f"{name} is not run in the {class_runs['mode']} sandbox: without a memory cgroup only "
                    "RLIMIT_AS bounds each process, and the machine's total memory would be at stake")
    return class_runs["results"][f"a_{name}"]


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_earns_no_more_than_its_honest_twin(class_runs, name, request):
    if name in KNOWN_SCORE_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_SCORE_GAPS[name]))
    attacker, twin = _attacker(class_runs, name), class_runs["results"][_twin(name)]
    gained = {t["name"]: t["points"] for t in attacker["tests"]}
    honest = {t["name"]: t["points"] for t in twin["tests"]}
    better = {test: (honest.get(test), points) for test, points in gained.items() if points > honest.get(test, 0)}
    assert attacker["score"] <= twin["score"] and not better, (
        f"{name}: {attacker['score']} > honest {twin['score']} or better on {better}")


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_ran_and_achieved_nothing(class_runs, name):
    result = _attacker(class_runs, name)
    output = result.get("student_output", "")
    if name in NEEDS_MEMORY_CGROUP and not cgroups.memory_cgroup_available():
        pytest.skip("no memory cgroup can be created on this machine: only RLIMIT_AS (per process) bounds memory")
    known = KNOWN_REACH.get(class_runs["mode"], {}).get(name)
    if known:
        lines = output.splitlines()
        reached = [line for line in lines if re.fullmatch(known[0], line)]
        assert reached, f"{name} no longer reaches what {class_runs['mode']} was known to let it ({known[1]})"
        output = "\n".join(line for line in lines if line not in reached)
    assert "ATTACK-SUCCESS" not in output, output[-2000:]
    cell = next(c for c in result["cells"] if c["cell"] == f"extra_{name}")
    if name in HANGS:
        assert cell["status"] in ("timeout", "crashed"), cell
    else:  # it ran to its end, or the grader stopped it on the spot (a forged answer, a crash)
        assert "ATTACK-DONE" in output or cell["status"] != "ok", (cell, output[-500:])


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_leaks_nothing(class_runs, name, request):
    if name in KNOWN_LEAKS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_LEAKS[name]))
    # "fingerprints" hold the submitted cells' own code (read by the trusted process before any of it ran, for the
    # similar-code report): built from the solution notebooks here, they hold "### BEGIN SOLUTION" by construction.
    text = "\n".join(_strings({k: v for k, v in _attacker(class_runs, name).items() if k != "fingerprints"}))
    leaked = [s for s in class_runs["secrets"] if s in text]
    assert not leaked, f"{name}'s results contain {leaked}"


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_cannot_bloat_the_gradebook(class_runs, name):
    """Output, error messages and tracebacks are capped on the trusted side, whatever the child sends."""
    assert len(json.dumps(_attacker(class_runs, name))) < 200_000


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_is_flagged_for_review(class_runs, name):
    result = _attacker(class_runs, name)
    assert result["needs_review"] and any(f"extra_{name}" in r for r in result["review_reasons"])


def _without_docstring(source: str) -> str:
    first = ast.parse(source).body[0]
    return "\n" * first.end_lineno + "\n".join(source.splitlines()[first.end_lineno:])


@pytest.mark.parametrize("name", ATTACKS)
def test_scan_flags_the_attack_code_itself(name):
    """Not thanks to the docstring: a real attacker writes none."""
    source = (ATTACK_DIR / f"{name}.py").read_text(encoding="utf-8")
    assert ast.get_docstring(ast.parse(source)), f"{name}: say what the attack tries in its docstring"
    assert scan_source(_without_docstring(source), name)


# --------------------------------------------------------------------------------------------------------------
# the run as a whole
# --------------------------------------------------------------------------------------------------------------
def test_corpus_is_large_enough():
    assert len(ATTACKS) >= 20


def test_the_whole_run_completed(class_runs):
    expected = {f"a_{n}" for n in class_runs["attacks"]} | {"h_partial", "h_wrongarch", "z_solution", "z_stub",
                                                           "z_persistence_probe"}
    assert set(class_runs["results"]) == expected
    assert all(not r["status"].startswith("not graded") for r in class_runs["results"].values())
    sandbox = EXPECTED_SANDBOX[class_runs["mode"]]
    for run in ("results", "baseline"):
        assert {r["sandbox"].split(" (")[0] for r in class_runs[run].values()} == {sandbox}


def test_honest_students_score_as_without_attackers(class_runs):
    for student, clean in class_runs["baseline"].items():
        attacked = class_runs["results"][student]
        assert [(t["name"], t["points"]) for t in attacked["tests"]] == [
            (t["name"], t["points"]) for t in clean["tests"]], student
        assert attacked["status"] == clean["status"] == "graded", (student, attacked["status"])
    assert class_runs["baseline"]["z_solution"]["score"] == class_runs["baseline"]["z_solution"]["max_score"]
    assert 0 < class_runs["baseline"]["h_partial"]["score"] < class_runs["baseline"]["h_partial"]["max_score"]


def test_honest_students_are_not_flagged(class_runs):
    for student in ("h_partial", "h_wrongarch", "z_solution", "z_stub"):
        assert not class_runs["results"][student]["review_reasons"], student


def test_nothing_persisted_for_later_submissions(class_runs):
    for run in ("results", "baseline"):
        output = class_runs[run]["z_persistence_probe"]["student_output"]
        assert "PROBE-CLEAN" in output, output[-1000:]
    assert class_runs["markers"] == []
    assert class_runs["python_changed"] == []


def test_secret_files_are_unreadable(class_runs):
    for run in ("results", "baseline"):
        output = class_runs[run]["z_persistence_probe"]["student_output"]
        assert "SECRETS-HIDDEN" in output, output[-1000:]


def test_no_file_outside_grades_changed(class_runs):
    assert class_runs["repo_changed"] == []
    assert class_runs["submissions_changed"] == []


def test_network_listener_heard_nothing(class_runs):
    assert class_runs["heard"] == []


def test_no_process_left(class_runs):
    assert class_runs["leftovers"] == []


def test_each_concurrent_slot_runs_as_its_own_unprivileged_uid(class_runs):
    if class_runs["mode"] == "userns":
        pytest.skip("without root every slot runs as the grader's own uid; PID, mount and network namespaces keep "
                    "the slots apart (checked by the rest of this run)")
    samples = class_runs["uid_samples"]
    assert samples, "no sandboxed process was ever seen"
    zygotes_of: dict[int, set[int]] = {}
    uids_of: dict[int, set[int]] = {}
    for sample in samples:
        for uid, zygotes in sample.items():
            zygotes_of.setdefault(uid, set()).update(zygotes)
            for zygote in zygotes:
                uids_of.setdefault(zygote, set()).add(uid)
    assert all(len(z) == 1 for z in zygotes_of.values()), zygotes_of  # one uid, one slot
    assert all(len(u) == 1 for u in uids_of.values()), uids_of  # one slot, one uid
    assert any(len(sample) >= 2 for sample in samples), "the two workers' children never ran at the same time"


@pytest.fixture(scope="module")
def zygote():
    from grader.sandbox.client import Zygote

    z = Zygote()
    yield z
    z.close()


def _in_sandbox(zygote, source: str, **config):
    """Run ``source`` in a fresh child and return its variable ``result`` (plain data)."""
    child = zygote.fork({"hide": [str(ROOT)], "cuda": False, **config})
    try:
        child.request(request(Op.RUN_CELL, label="probe", source=source), timeout=30)
        return child.request(request(Op.GET, name="result"), timeout=30)
    finally:
        child.close()


SELF_INSPECTION = '''
import os, resource, socket
def net():
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=0.2)
        return "connected"
    except OSError as err:
        return type(err).__name__
result = {"root": sorted(os.listdir("/")), "uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(),
          "as": resource.getrlimit(resource.RLIMIT_AS)[0], "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
          "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0], "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
          "net": net(), "dev_null": os.access("/dev/null", os.W_OK), "tmp_writable": os.access("/tmp", os.W_OK),
          "usr_writable": os.access("/usr", os.W_OK),
          "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), "dev": sorted(os.listdir("/dev"))}
'''


@needs_root_sandbox
def test_the_child_sees_only_the_allow_listed_file_system(zygote):
    got = _in_sandbox(zygote, SELF_INSPECTION + f"result['project'] = sorted(os.listdir({str(ROOT)!r}))")
    needed_tops = {Path(p).resolve().parts[1] for p in (sys.base_prefix, sys.prefix, ROOT)}
    allowed = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "sys", "proc", "tmp"}
    assert set(got["root"]) <= allowed | needed_tops, got["root"]
    assert set(got["project"]) <= {".venv", "grader"}, got["project"]  # no solutions, tests, grades, examples
    assert got["uid"] == zygote.uid == got["gid"] and is_sandbox_uid(got["uid"])
    assert got["pids"] == [1] and got["cwd"] == "/tmp" and got["net"] != "connected"
    assert got["dev_null"] and got["tmp_writable"] and not got["usr_writable"]
    gpu_nodes = {p.name for pattern in rootfs.GPU_DEVICE_PATTERNS for p in Path("/dev").glob(pattern)}
    assert set(got["dev"]) == {*rootfs.DEVICE_NODES, *rootfs.DEVICE_LINKS, "shm"} | gpu_nodes, got["dev"]
    bounds = limits.DEFAULT_LIMITS
    assert (got["as"], got["nproc"], got["fsize"], got["cpu"]) == (
        bounds["memory_bytes"], bounds["processes"], bounds["file_bytes"], bounds["cpu_seconds"])


CUDA_PROBE = '''
import resource, torch
queued = [call for call, _ in getattr(torch.cuda, "_queued_calls", [])]
result = {"bound_queued": any(getattr(c, "__name__", "") == "bound" for c in queued),
          "cuda_initialised": torch.cuda.is_initialized(), "cpu_works": float((torch.ones(3) * 2).sum()),
          "as": resource.getrlimit(resource.RLIMIT_AS)[0]}
'''


@needs_root_sandbox
def test_cuda_children_get_a_lazy_gpu_memory_bound_and_no_address_space_limit(zygote):
    """With config["cuda"], the bound waits in torch's lazy-init queue: no CUDA start-up paid, none attempted here."""
    with_cuda, without = _in_sandbox(zygote, CUDA_PROBE, cuda=True), _in_sandbox(zygote, CUDA_PROBE)
    assert with_cuda["bound_queued"] and not with_cuda["cuda_initialised"] and with_cuda["cpu_works"] == 6.0
    assert with_cuda["as"] == -1  # RLIM_INFINITY: CUDA reserves a huge address space
    assert not without["bound_queued"] and without["as"] == limits.DEFAULT_LIMITS["memory_bytes"]


def test_scan_has_no_false_positives_on_the_reference_solutions():
    from grader.notebook import read_cells
    from grader.scan import scan_for_tampering

    notebooks = sorted((ROOT / "solutions").glob("*/*.ipynb")) + sorted((ROOT / "assignments").glob("*/*.ipynb"))
    assert notebooks
    flagged = {str(p.relative_to(ROOT)): scan_for_tampering(read_cells(p)) for p in notebooks}
    assert {k: v for k, v in flagged.items() if v} == {}


def test_a_remembered_scan_answers_as_a_fresh_one_for_each_label_and_language():
    """A worker remembers each cell's scan (most cells are the release's, the same for every student): the
    answer still names the cell it was given and is in the language graded in."""
    from grader.i18n import set_language
    from grader.notebook import Cell
    from grader.scan import scan_for_tampering

    source = "import ctypes\ntorch.allclose = lambda *a, **k: True\n"
    first = scan_for_tampering([Cell(0, "conv_params", "solution", source)])
    again = scan_for_tampering([Cell(0, "conv_params", "solution", source)])
    elsewhere = scan_for_tampering([Cell(3, "vgg_block", "solution", source)])
    assert first == again == scan_source(source, "conv_params") and len(first) == 2
    assert elsewhere == scan_source(source, "vgg_block") and all("vgg_block" in r for r in elsewhere)
    set_language("ko")
    try:
        korean = scan_for_tampering([Cell(0, "conv_params", "solution", source)])
        assert korean == scan_source(source, "conv_params") and korean != first
    finally:
        set_language("en")
