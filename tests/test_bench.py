"""The benchmark (`make bench`): its generated submissions, and one small end-to-end run of both graders.

No timing thresholds here: the numbers depend on the machine's load. The
end-to-end run only checks that every field is there and every number is sane.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is not an installed package

from bench.cli import REPO, available
from bench.course import all_mistakes, kinds
from bench.mistakes import BEGIN, END

PRESENT = available()
# the cheapest assignments to grade first (the smoke run must stay well under a minute on 2 idle cores)
SMOKE_ORDER = ("vgg", "alexnet", "inception", "resnet", "densenet")


def test_class_mix():
    assert kinds(20).count("full") == 4 and kinds(20).count("stub") == 4 and kinds(20).count("mistake") == 12
    assert kinds(2) == ["full", "mistake"]


@pytest.mark.parametrize("assignment_id", PRESENT)
def test_mistakes_are_plausible_edits_inside_solution_regions(assignment_id):
    from grader.course import assignment

    solution = nbformat.read(assignment(assignment_id, REPO).source_notebook, as_version=4)
    mistakes = all_mistakes(solution, solution)  # without a release: edits only, no "undone"
    assert len(mistakes) >= 3, [m.label for m in mistakes]
    sources = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
               if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    for mistake in mistakes:
        original = sources[mistake.grade_id]
        assert mistake.source != original
        ast.parse(mistake.source)
        # everything outside the solution regions (signatures, docstrings, markers) is untouched
        assert _outside_regions(mistake.source) == _outside_regions(original), mistake.label


def _outside_regions(source: str) -> list[str]:
    kept, inside = [], False
    for line in source.splitlines():
        if BEGIN in line:
            inside = True
        if not inside:
            kept.append(line)
        if END in line:
            inside = False
    return kept


@pytest.mark.skipif(not PRESENT, reason="no assignment has both a solution notebook and hidden tests yet")
def test_smoke_both_graders_two_submissions(tmp_path):
    task = next(a for a in SMOKE_ORDER if a in PRESENT)
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "bench", "--n", "2", "--assignments", task, "--workers", "1",
               "--isolation-children", "2", "--skip-cluster", "--json", str(out)]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))

    assert report["n"] == 2 and list(report["assignments"]) == [task]
    entry = report["assignments"][task]
    assert entry["n"] == 2 and entry["mix"] == {"full": 1, "mistake": 1}
    for tool in ("kit", "nbgrader"):
        stats = entry[tool]
        assert stats["count"] == 2 and 0 < stats["median_s"] <= stats["p90_s"]
        whole = report[tool]
        assert whole["units"] == 2 and whole["wall_s"] > 0 and whole["wall_per_unit_s"] > 0
        assert whole["memory"]["peak_rss_mib"] > 100 and whole["memory"]["peak_pss_mib"] > 0
        assert whole["memory"]["samples"] > 0
    assert entry["ratio"] > 0 and report["ratio"] > 0
    assert entry["full_at_max"]["kit"] == "1/1", report["submissions"]  # the solution itself gets full marks

    iso = report["isolation"]
    assert iso["children"] == 2 and len(iso["isolated_ms"]) == 2 and len(iso["plain_ms"]) == 2
    assert iso["isolated_median_ms"] > 0 and iso["plain_median_ms"] > 0 and "overhead_ms" in iso

    assert {s["kind"] for s in report["submissions"]} == {"full", "mistake"}
    for sub in report["submissions"]:
        assert sub["kit"]["seconds"] > 0 and sub["kit"]["max_score"] > 0
        assert sub["nbgrader"]["success"] and sub["nbgrader"]["seconds"] > 0
    assert report["environment"]["torch"] and report["environment"]["nbgrader"]
    assert report["device"].startswith("cpu") and report["cuda_requested"] is False
    assert {t["name"] for t in report["targets"]} and all(isinstance(t["ok"], bool) for t in report["targets"])
    assert "python -m bench" in report["command"]
    assert "nbgrader median" in proc.stdout and task in proc.stdout


@pytest.mark.skipif(os.path.exists("/dev/nvidia0"), reason="a GPU is present: --cuda runs for real")
@pytest.mark.skipif(not PRESENT, reason="no assignment to benchmark yet")
def test_cuda_flag_without_a_gpu_fails_clearly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench", "--cuda", "--n", "1", "--json", str(tmp_path / "x.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode != 0
    assert "CUDA is unavailable" in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_stop_processes_stops_them_and_the_cluster_helper_is_a_context_manager():
    """Both are shared with tests/test_dask.py's TLS fixture; a misplaced decorator once made stop_processes a
    context manager that, called plainly, stopped nothing."""
    from bench.cluster import separate_cluster, stop_processes

    stubborn = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                      "print('ready', flush=True); time.sleep(600)"]
    processes = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]),
                 subprocess.Popen(stubborn, stdout=subprocess.PIPE, text=True)]
    assert processes[1].stdout.readline() == "ready\n"  # its SIGTERM handler is in place
    try:
        stop_processes(processes, grace_s=1)
        assert [p.poll() for p in processes] == [-15, -9]  # SIGTERM first; SIGKILL for the one that ignores it
    finally:
        for process in processes:
            process.kill()
    assert hasattr(separate_cluster(1, Path("/nonexistent")), "__enter__")
