"""Kill or signal the grader: the parent, the process group, kill -9 -1, every pid, the zygote's pid (uid - 200000).

kill(-1) from root would take down the whole machine; from the sandbox it
should reach nothing outside it.
"""
import os
import signal
import subprocess

own = os.getpid()
for action in [lambda: os.kill(os.getppid(), signal.SIGKILL), lambda: os.killpg(0, signal.SIGTERM),
               lambda: os.killpg(os.getpgid(0), signal.SIGTERM), lambda: os.kill(os.getuid() - 200_000, signal.SIGKILL),
               lambda: subprocess.run(["kill", "-9", "-1"], timeout=1), lambda: os.kill(-1, signal.SIGKILL),
               lambda: subprocess.run(["pkill", "-9", "python"], timeout=1)]:
    try:
        action()
    except Exception:
        pass
for pid in range(1, 70_000):
    if pid != own:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
print("ATTACK-DONE")
