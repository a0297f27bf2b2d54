"""Exhaust memory across processes: four forked children each fill 512 MiB, each under its RLIMIT_AS.

RLIMIT_AS bounds each process, not their sum; only a memory cgroup per child
bounds all of them together (the kernel's OOM killer then acts inside it).
The test lowers that bound to 1.5 GiB so the bomb goes off within a cell's
time limit; the real default is 4 GiB, with 32 processes allowed.
"""
import os
import select
import time

import torch

read_end, write_end = os.pipe()
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        try:
            hog = torch.ones(2**28, dtype=torch.float16)  # 512 MiB, every page touched
            os.write(write_end, b"1")
            time.sleep(30)
        finally:
            os._exit(0)
    children.append(pid)
confirmed, deadline = 0, time.monotonic() + 2.5
while confirmed < 4 and time.monotonic() < deadline:
    if select.select([read_end], [], [], 0.1)[0]:
        confirmed += len(os.read(read_end, 16))
alive = [pid for pid in children if os.waitpid(pid, os.WNOHANG) == (0, 0)]
if confirmed == 4 and len(alive) == 4:
    print("ATTACK-SUCCESS: 2 GiB held by four processes")
print("ATTACK-DONE")
