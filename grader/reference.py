"""Load a reference solution notebook into the trusted process (never into a sandbox or zygote)."""
from __future__ import annotations

import linecache
import types
from functools import lru_cache
from pathlib import Path

from grader.course import assignment
from grader.notebook import read_cells, runnable_source


def load_notebook_module(path: Path, name: str = "reference") -> types.ModuleType:
    """Execute a notebook's setup and solution cells as a module, in this (trusted) process."""
    module = types.ModuleType(name)
    module.__file__ = str(path)
    for cell in read_cells(path):
        if cell.kind not in ("setup", "solution"):
            continue  # the reference is its setup and solution cells; measuring cells are for students
        source = runnable_source(cell)
        filename = f"<{path.stem} {cell.label}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)
    return module


@lru_cache(maxsize=None)
def load_reference(assignment_id: str) -> types.ModuleType:
    return load_notebook_module(assignment(assignment_id).source_notebook, f"reference_{assignment_id}")
