"""Flood the output: lift the runtime's print cap, then 100 MB through print and sys.stderr, raw writes to fd 1,
a 100 MB exception message, and a file as large as the disk allows.

The trusted side caps what it keeps of every answer whatever the child does;
the scratch tmpfs (64 MB) and RLIMIT_FSIZE (16 MB) bound the files.
"""
import gc
import os
import sys

import grader.sandbox.runtime as runtime

for obj in gc.get_objects():
    if isinstance(obj, runtime.CappedWriter):
        obj.limit = 10**9
chunk = "x" * 2**20
for _ in range(50):
    print(chunk)
    sys.stderr.write(chunk)
try:
    os.write(1, b"y" * 2**24)
except OSError:
    pass
try:
    with open("/tmp/attack-marker-big", "wb") as handle:
        for _ in range(512):
            handle.write(b"z" * 2**20)
    print("ATTACK-SUCCESS: wrote 512 MB")
except OSError:
    pass
print("ATTACK-DONE")
raise RuntimeError("w" * 10**8)
