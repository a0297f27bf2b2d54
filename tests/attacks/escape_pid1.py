"""The student's own process escapes its kill: clears its death signal, leaves the process group, refuses to exit.

prctl(PR_SET_PDEATHSIG, 0) and setsid(), SIGTERM/SIGHUP ignored, and os._exit
replaced by an endless sleep, so the grader's "exit" and a kill of the
middle process's group both leave it running, with a thread that keeps
trying to reach the test's listener.
"""
import ctypes
import os
import signal
import socket
import threading
import time

LISTENER_PORT = 0  # set by tests/test_attacks.py
ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG 0
try:
    os.setsid()
except OSError:
    pass
for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
    signal.signal(sig, signal.SIG_IGN)
os._exit = lambda code=0: time.sleep(3600)


def keep_trying():
    while True:
        try:
            socket.create_connection(("127.0.0.1", LISTENER_PORT), timeout=0.2).sendall(b"pid1")
        except OSError:
            pass
        time.sleep(0.5)


threading.Thread(target=keep_trying, daemon=True).start()
print("ATTACK-DONE")
