"""Leave files and IPC objects for later submissions: /tmp, /var/tmp, /dev/shm, SysV shared memory, a FIFO.

The z_persistence_probe bystander, graded later, looks for all of them.
"""
import ctypes
import os

for path in ["/tmp/attack-marker-persist", "/var/tmp/attack-marker-persist", "/dev/shm/attack-marker-persist",
             "/run/shm/attack-marker-persist", "/dev/attack-marker-persist"]:
    try:
        with open(path, "w") as handle:
            handle.write("planted by an earlier submission")
        os.chmod(path, 0o666)
    except OSError:
        pass
try:
    os.mkfifo("/tmp/attack-marker-fifo")
except OSError:
    pass
libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT = 0o1000
shmid = libc.shmget(0xC0FFEE, 4096, IPC_CREAT | 0o666)
semid = libc.semget(0xC0FFEE, 1, IPC_CREAT | 0o666)
print("ATTACK-DONE")
