"""A fork bomb: every process forks as fast as it can, forever, and keeps every CPU it gets busy.

RLIMIT_NPROC (per sandbox uid) caps the count; the slot's CPU cgroup keeps
other students' children from being starved into their time limits.
"""
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
