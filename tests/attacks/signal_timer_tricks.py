"""Disarm the per-cell time limit: ignore and block SIGALRM, neuter setitimer and alarm, then loop forever.

Only a wall-clock kill from outside the sandbox can stop this cell.
"""
import signal
import time

signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)
signal.alarm = lambda *args: 0
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
    signal.signal(sig, signal.SIG_IGN)
while True:
    time.sleep(0.01)
