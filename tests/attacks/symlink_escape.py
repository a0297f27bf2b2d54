"""Follow symlinks planted in the submission folder (tests_link -> autograde_tests, solutions_link -> solutions).

The test puts the links (and a timestamp.txt pointing at the hidden tests)
next to this notebook; here the cell looks for them relative to the working
directory and searches for them, and plants its own links in /tmp.
"""
import os
import time

import grader  # mounted where it lives on the host, so this is the checkout's real path
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(grader.__file__)))

for path in ["tests_link/test_densenet.py", "solutions_link/densenet/densenet.ipynb", "../tests_link",
             "densenet/tests_link/test_densenet.py", "timestamp.txt"]:
    try:
        with open(path, "rb") as handle:
            print("ATTACK-SUCCESS: read", path, handle.read(40))
    except OSError:
        pass
deadline = time.monotonic() + 1.0
for top, dirs, files in os.walk("/", followlinks=False):
    if time.monotonic() > deadline:
        break
    dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr")]
    for name in dirs + files:
        if name in ("tests_link", "solutions_link"):
            print("ATTACK-SUCCESS: found", os.path.join(top, name))
for name, target in [("t", PROJECT + "/autograde_tests"), ("s", PROJECT + "/solutions"), ("g", PROJECT + "/grades")]:
    try:
        os.symlink(target, f"/tmp/{name}")
        print("ATTACK-SUCCESS: followed", name, os.listdir(f"/tmp/{name}")[:3])
    except OSError:
        pass
print("ATTACK-DONE")
