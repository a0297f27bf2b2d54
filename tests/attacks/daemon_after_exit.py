"""Leave a daemon behind (double fork, setsid, no death signal, SIGTERM/SIGHUP ignored) that acts 2 s later.

After its submission has ended it tries to connect to the test's listener,
write markers into shared places and kill everything it can.
"""
import ctypes
import os
import signal
import socket
import time

LISTENER_PORT = 0  # set by tests/test_attacks.py
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG 0
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        time.sleep(2.0)
        for path in ["/tmp/attack-marker-daemon", "/dev/shm/attack-marker-daemon"]:
            try:
                open(path, "w").write("daemon was here")
            except OSError:
                pass
        try:
            socket.create_connection(("127.0.0.1", LISTENER_PORT), timeout=0.5).sendall(b"daemon")
        except OSError:
            pass
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(600)
    os._exit(0)
print("ATTACK-DONE")
