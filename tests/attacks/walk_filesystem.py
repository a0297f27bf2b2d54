"""Search the whole file system (os.walk('/')) for hidden tests, solutions, gradebooks and other notebooks.

Skips /proc, /sys and /dev, stops after 2 s; reports any directory named like
the project's secret folders and any notebook that is not part of a package.
"""
import os
import time

deadline = time.monotonic() + 2.0
wanted = {"autograde_tests", "solutions", "grades", "submissions", "gradebook.db", "test_densenet.py"}
for top, dirs, files in os.walk("/"):
    if time.monotonic() > deadline:
        break
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    dirs[:] = [d for d in dirs if d not in ("site-packages", "dist-packages", "share", "include")]
    for name in dirs + files:
        if name in wanted or (name.endswith(".ipynb") and "densenet" in name):
            print("ATTACK-SUCCESS: found", os.path.join(top, name))
print("ATTACK-DONE")
