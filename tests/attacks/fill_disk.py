"""Fill the disk: write file after file (each below the file-size limit) into every writable place it finds
(the temporary directory, /tmp, /dev/shm, its working and home directories), up to 1 GiB in all.

A full disk would stop the coordinator writing grades for everyone after this student. The sandbox's /tmp is a
small tmpfs in the namespace modes; in the uid mode the grader stops the child once its directory passes the
bound. Writing more than half a GiB counts as a success.
"""
import os
import tempfile

CHUNK = b"\0" * (4 << 20)
written, stopped_by = 0, []
places = []
for place in (tempfile.gettempdir(), "/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~")):
    if place not in places:
        places.append(place)
for place in places:
    for index in range(256):
        if written >= 1 << 30:
            break
        try:
            with open(os.path.join(place, f"attack-fill-{index}"), "wb") as handle:
                for _ in range(3):  # 12 MiB a file: below the 16 MiB RLIMIT_FSIZE
                    handle.write(CHUNK)
                    handle.flush()
                    written += len(CHUNK)
        except OSError as err:
            stopped_by.append(f"{place}: {err.strerror}")
            break
if written > 1 << 29:
    print("ATTACK-SUCCESS: wrote", written >> 20, "MiB")
print("ATTACK-DONE", written >> 20, "MiB", stopped_by[:5])
