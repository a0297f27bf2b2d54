"""What ``run_autograder`` runs for each upload: find the notebook, grade it in a worker, write ``results.json``.

This supervisor imports neither torch nor student code, so it survives whatever
the grading does: the worker (``grader.gradescope.worker``) runs in its own
session under a deadline; if it crashes, hangs or writes nothing, the student
still gets a valid ``results.json`` with score 0 and the reason. It is written
only after the worker and every process it started are gone.

Prints go to ``/autograder/results/stdout``, which Gradescope shows to
instructors only (specification: "Files you provide").
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.gradescope.paths import AutograderPaths
from grader.i18n import _, set_language
from grader.gradescope.results import not_graded, to_gradescope

DEFAULT_TIMEOUT = 900.0
"""Seconds for one upload in all; set Gradescope's own limit above it (its default is 10 minutes)."""


def find_notebook(folder: Path) -> tuple[Path | None, str]:
    """The one ``.ipynb`` in the upload, whatever its name; otherwise why there is none to grade."""
    if not folder.is_dir():
        return None, _("no submission folder ({folder}): nothing was uploaded", folder=folder)
    notebooks = sorted(p for p in folder.rglob("*.ipynb")
                       if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts
                       and not any(part.startswith("__MACOSX") for part in p.parts))
    if not notebooks:
        others = sorted(p.name for p in folder.rglob("*") if p.is_file())
        if others:
            return None, _("no Jupyter notebook (.ipynb) in your upload (found: {files}): upload your .ipynb file",
                           files=", ".join(others[:10]))
        return None, _("no Jupyter notebook (.ipynb) in your upload (the upload is empty): upload your .ipynb file")
    if len(notebooks) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in notebooks)
        return None, _("several notebooks in your upload ({names}): upload exactly one .ipynb, so that the grader "
                       "knows which one to grade", names=names)
    return notebooks[0], ""


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (by /proc's parent links): the worker, its zygote, the sandboxes."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def become_subreaper() -> None:
    """Orphans of the grading run (a sandbox's processes whose parent died) become this process's children.

    ``prctl(PR_SET_CHILD_SUBREAPER)``, Linux's mechanism for supervisors: so
    ``stop_all`` finds every process the run left, wherever it was reparented.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        print("note: could not become a child subreaper; only the worker's own tree is stopped", flush=True)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_all(process: subprocess.Popen, grace: float = 10.0) -> list[int]:
    """Kill everything the run started (worker, zygote, sandboxes, orphans); the pids still alive after ``grace``."""
    tree = _descendants(os.getpid())
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + grace
    while True:
        _reap()
        left = sorted(pid for pid in tree | _descendants(os.getpid()) if _alive(pid))
        if not left or time.monotonic() > deadline:
            return left
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _interpreter() -> Path:
    """This venv's python with its folders' links resolved (the file itself kept, so the venv still applies).

    The sandbox binds the interpreter's and the venv's real paths into the
    child's file system; a venv reached through a linked folder (``/autograder/venv``
    pointing elsewhere) would leave the child without its interpreter.
    """
    executable = Path(sys.executable)
    return executable.parent.resolve() / executable.name


def grade_in_worker(notebook: Path, assignment_id: str, timeout: float, settings: dict) -> tuple[dict | None, str]:
    """The unit result from a worker process, or ``None`` and why there is none."""
    become_subreaper()
    scratch = Path(tempfile.mkdtemp(prefix="cnn-gradescope-"))  # mode 0700: the supervisor's own
    out = scratch / "result.json"
    env = {**os.environ, "CNN_AUTOGRADER_SETTINGS": json.dumps(settings)}
    process = subprocess.Popen([str(_interpreter()), "-m", "grader.gradescope.worker", str(notebook), assignment_id,
                                str(out)], start_new_session=True, env=env, stdin=subprocess.DEVNULL)
    try:
        return _wait_for(process, timeout, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _wait_for(process: subprocess.Popen, timeout: float, out: Path) -> tuple[dict | None, str]:
    reason = ""
    try:
        code = process.wait(timeout=timeout)
        if code != 0:
            reason = _("the grader stopped with exit code {code} before it finished (a crash or too much memory); "
                       "your instructor can see the log", code=code)
    except subprocess.TimeoutExpired:
        reason = _("grading did not finish within {seconds:g} s and was stopped", seconds=timeout)
    left = stop_all(process)
    if left:  # results.json waits for every process of the run; these would not die
        print(f"warning: processes {left} outlived the worker", flush=True)
        return None, reason or _("processes of the grading run could not be stopped: {pids}", pids=left)
    if reason:
        return None, reason
    try:
        return json.loads(out.read_text(encoding="utf-8")), ""
    except (OSError, ValueError) as err:
        return None, _("the grader wrote no result ({error_type})", error_type=type(err).__name__)


def write_results(paths: AutograderPaths, document: dict) -> None:
    """Atomically, into a results folder only root may write (the sandboxed uid cannot)."""
    paths.results_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.results_dir, 0o755)
    tmp = paths.results_dir / ".results.json.tmp"
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, paths.results)


def run(paths: AutograderPaths) -> dict:
    """Grade the upload and return the document written to ``results.json``."""
    started = time.monotonic()
    config = json.loads(paths.config.read_text(encoding="utf-8"))
    set_language(config.get("lang"))  # the course's language: this process's messages and the worker's (settings)
    assignment_id, visibility = config["assignment"], config.get("visibility", "visible")
    tests = config["tests"]
    notebook, problem = find_notebook(paths.submission)
    if notebook is None:
        return not_graded(assignment_id, problem, tests, visibility=visibility,
                          execution_time=time.monotonic() - started)
    print(f"grading {notebook} as {assignment_id}", flush=True)
    result, problem = grade_in_worker(notebook, assignment_id, float(config.get("timeout", DEFAULT_TIMEOUT)),
                                      {"lang": config.get("lang") or "en", **config.get("settings", {})})
    if result is None:
        return not_graded(assignment_id, problem, tests, visibility=visibility,
                          execution_time=time.monotonic() - started,
                          sandbox=_("stopped with the grading run, every process of it ended"))
    if notebook.name != f"{assignment_id}.ipynb":
        result.setdefault("problems", []).append(_("graded {name} as the {assignment} notebook", name=notebook.name,
                                                   assignment=assignment_id))
    print(f"score {result['score']:g}/{result['max_score']:g}; sandbox: {result.get('sandbox', 'not started')}; "
          f"status: {result['status']}; review: {result.get('review_reasons') or 'none'}", flush=True)
    return to_gradescope(result, visibility=visibility, execution_time=time.monotonic() - started)


def main() -> int:
    paths = AutograderPaths.from_env()
    try:
        document = run(paths)
    except Exception as err:  # the last line of defence: a grader bug still gives the student a valid file
        print(f"internal grader error: {type(err).__name__}: {err}", flush=True)
        try:
            config = json.loads(paths.config.read_text(encoding="utf-8"))
            tests, assignment_id = config["tests"], config["assignment"]
        except (OSError, ValueError, KeyError):
            tests, assignment_id = [], "assignment"
        document = not_graded(assignment_id, _("internal grader error ({error_type}); your instructor has the "
                                               "details", error_type=type(err).__name__), tests)
    write_results(paths, document)
    print(f"wrote {paths.results}: score {document['score']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
