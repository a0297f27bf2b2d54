"""Exhaust memory: a 100 GB tensor, a 10 GB bytearray, a shared anonymous mmap of 16 GB touched page by page.

RLIMIT_DATA alone would be bypassed by the shared mmap; RLIMIT_AS and the
slot's memory cgroup are not.
"""
import mmap

import torch

attempts = [lambda: torch.empty(100 * 2**30, dtype=torch.uint8), lambda: bytearray(10 * 2**30),
            lambda: [0] * (2**33)]
for attempt in attempts:
    try:
        hog = attempt()
        print("ATTACK-SUCCESS: allocated", type(hog).__name__)
        del hog
    except (MemoryError, RuntimeError, OverflowError):
        pass
try:
    area = mmap.mmap(-1, 16 * 2**30, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    for offset in range(0, len(area), 2**20):
        area[offset] = 1
    print("ATTACK-SUCCESS: touched a 16 GB shared mapping")
except (OSError, MemoryError, ValueError):
    pass
print("ATTACK-DONE")
