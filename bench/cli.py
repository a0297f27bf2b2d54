"""``python -m bench`` (``make bench``): the kit's grader against ``nbgrader autograde``, same notebooks, same run.

1. A throwaway nbgrader course in a temporary folder: a copy of ``solutions/``,
   nbgrader's own ``generate_assignment`` for the release, and N submissions per
   assignment in nbgrader's layout (full marks, stubs, typical mistakes).
2. The kit grades them (``make grade``'s engine, its own process tree).
3. nbgrader autogrades them (its own process tree), one timed call per
   student × assignment.
4. Fork → first answer of sandboxed children with isolation on and off.
5. A table per assignment and a JSON file with every number.

Each tool runs alone (never both at once); the peak memory of each is sampled
from /proc over its whole process tree.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bench import report as rep
from bench.procmem import run_measured

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO / "bench" / "out" / "latest.json"


class BenchError(Exception):
    pass


def known(repo: Path = REPO) -> tuple[str, ...]:
    """The course's assignments (its course file, course.toml)."""
    from grader.course import assignment_ids

    return assignment_ids(repo)


def available(repo: Path = REPO) -> list[str]:
    """Assignments of the course with both a source notebook and hidden tests in this checkout."""
    from grader.course import course

    return [task.id for task in course(repo).assignments if task.source_notebook.is_file() and task.tests.is_file()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="submissions per assignment (default 20)")
    parser.add_argument("--assignments", default="",
                        help="comma-separated ids (default: every assignment with a solution notebook "
                             "and hidden tests)")
    parser.add_argument("--workers", type=int, default=0, help="the kit's parallel workers (default: one per core)")
    parser.add_argument("--skip-nbgrader", action="store_true", help="grade with the kit only")
    parser.add_argument("--cuda", action="store_true",
                        help="grade with CUDA forward checks (needs a GPU; fails if CUDA is unavailable)")
    parser.add_argument("--json", default=str(DEFAULT_JSON),
                        help=f"where to write the numbers (default {DEFAULT_JSON.relative_to(REPO)})")
    parser.add_argument("--isolation-children", type=int, default=20,
                        help="children per variant for the isolation overhead (default 20; 0 skips it)")
    parser.add_argument("--seed", type=int, default=0, help="which mistakes go to which student (default 0)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds each tool may run in all (default 3600)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary course folder and print its path")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--skip-report", action="store_true", help="skip the class-report bench (bench.report_bench; "
                        "it runs only with every assignment, i.e. without --assignments)")
    parser.add_argument("--skip-cluster", action="store_true", help="skip the Dask figures (bench/cluster.py)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="grade with the kit this many times (and the class, see --class) and judge the "
                             "median of the runs' medians (default 1; the targets are judged on 3)")
    parser.add_argument("--class", dest="class_size", type=int, default=None, metavar="N",
                        help="also grade a generated class of N students × every assignment benchmarked, timed "
                             "whole, beside nbgrader's time for it extrapolated from this run (default 300 when "
                             "every assignment runs, else 0 = skip)")
    parser.add_argument("--no-profile", action="store_true",
                        help="leave out where the time goes (grader.profiling; bench/profile.py)")
    return parser


def _versions() -> dict:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"torch": version("torch"), "nbgrader": version("nbgrader"), "python": platform.python_version(),
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def _environment(cuda: bool) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs `alembic`
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    if not cuda:
        env["CUDA_VISIBLE_DEVICES"] = ""  # a GPU machine grades on CPU only unless --cuda
    return env


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def _run_tool(name: str, cmd: list[str], env: dict, work: Path, timeout: float, console: Console) -> tuple[dict, dict]:
    log = work / f"{name}.log"
    console.print(f"[bold]{name}[/]: {shlex.join(cmd)}")
    code, wall, memory = run_measured(cmd, env=env, cwd=str(REPO), log_path=str(log), timeout=timeout)
    out = work / f"{name}.json"
    if code != 0 or not out.is_file():
        raise BenchError(f"{name} failed (exit code {code}); the end of its log {log}:\n{_tail(log)}")
    data = json.loads(out.read_text(encoding="utf-8"))
    console.print(f"  {len(data['units'])} units in {wall:.1f} s, peak RSS {memory['peak_rss_mib']:.0f} MiB")
    return data, {"wall_s": round(wall, 3), "memory": memory}


def _tool_summary(units: list[dict], run: dict, how: str) -> dict:
    seconds = [u["seconds"] for u in units if u.get("seconds") is not None]
    stats = rep.summary(seconds)
    count = len(units)
    return {**stats, "units": count, "wall_s": run["wall_s"],
            "wall_per_unit_s": round(run["wall_s"] / count, 3) if count else None,
            "memory": run["memory"], "how": how}


def run(args: argparse.Namespace, console: Console) -> dict:
    present = available()
    if args.assignments:
        wanted = [a.strip() for a in args.assignments.split(",") if a.strip()]
        unknown = [a for a in wanted if a not in known()]
        if unknown:
            raise BenchError(f"unknown assignment(s) {', '.join(unknown)} (known: {', '.join(known())})")
        missing = [a for a in wanted if a not in present]
        if missing:
            raise BenchError(f"no solution notebook or hidden tests for {', '.join(missing)} in {REPO} "
                             f"(present: {', '.join(present) or 'none'})")
    else:
        wanted = present
        if not wanted:
            raise BenchError(f"no assignment of {REPO / 'course.toml'} has both its source notebook and its "
                             "hidden tests in this checkout")
    if args.n < 1:
        raise BenchError("--n must be at least 1")

    import torch

    cuda_available = torch.cuda.is_available()
    if args.cuda and not cuda_available:
        raise BenchError("CUDA is unavailable on this machine (torch.cuda.is_available() is False, torch "
                         f"{torch.__version__}): --cuda needs a GPU. Run without --cuda for the CPU benchmark.")
    if args.cuda:
        device = f"cuda ({torch.cuda.get_device_name(0)}) and cpu: the kit's hidden tests run their cuda variants"
    else:
        device = "cpu" + (" (a GPU is present but hidden from both tools; --cuda grades with it)"
                          if cuda_available else " (CUDA unavailable)")

    versions = _versions()
    python = Path(sys.executable)
    python_shown = str(python.relative_to(REPO)) if python.is_relative_to(REPO) else str(python)
    command = (shlex.join([python_shown, "-m", "bench", *sys.argv[1:]])
               + f"   (in {REPO}; `make bench` runs it with no options)")
    work = Path(tempfile.mkdtemp(prefix="cnn-bench-"))
    root = work / "course"
    env = _environment(args.cuda)
    notes: list[str] = []
    keep = args.keep
    try:
        from bench.course import make_course, make_submissions

        started = time.monotonic()
        console.print(f"course in {root}: releasing {', '.join(wanted)} with nbgrader, "
                      f"{args.n} submissions each")
        make_course(REPO, root, wanted)
        submissions = make_submissions(root, wanted, args.n, seed=args.seed)
        console.print(f"  ready in {time.monotonic() - started:.1f} s")

        only = [x for task in wanted for x in ("--assignment", task)]

        def kit_cmd(name: str, submitted: Path, profile: bool) -> list[str]:
            return [sys.executable, "-m", "bench.kit_driver", str(submitted), str(work / f"{name}-grades"),
                    str(work / f"{name}.json"), "--workers", str(args.workers), *only,
                    *(["--profile"] if profile else [])]

        kit, kit_run = _run_tool("kit", kit_cmd("kit", root / "submitted", not args.no_profile), env, work,
                                 args.timeout, console)
        repeats = [kit] + [_run_tool(f"kit-{i + 1}", kit_cmd(f"kit-{i + 1}", root / "submitted", False), env, work,
                                     args.timeout, console)[0] for i in range(1, max(1, args.repeat))]
        if args.cuda and not kit["cuda_available"]:
            raise BenchError("--cuda: the kit's grading process did not see CUDA")
        nbg = nbg_run = None
        if not args.skip_nbgrader:
            nbg_cmd = [sys.executable, "-m", "bench.nbgrader_driver", str(root), str(work / "nbgrader.json"), *only]
            nbg, nbg_run = _run_tool("nbgrader", nbg_cmd, env, work, args.timeout, console)
        isolation = None
        if args.isolation_children > 0:
            iso_json = work / "isolation.json"
            iso_cmd = [sys.executable, "-m", "bench.isolation", str(iso_json), "--children",
                       str(args.isolation_children), "--hide", str(root)]
            console.print(f"[bold]isolation[/]: {shlex.join(iso_cmd)}")
            code, _, _ = run_measured(iso_cmd, env=env, cwd=str(REPO), log_path=str(work / "isolation.log"),
                                      timeout=600)
            if code != 0:
                raise BenchError(f"the isolation measurement failed (exit code {code}):\n"
                                 f"{_tail(work / 'isolation.log')}")
            raw = json.loads(iso_json.read_text(encoding="utf-8"))
            if len(raw["isolated_ms"]) != raw["children"] or len(raw["plain_ms"]) != raw["children"]:
                raise BenchError("the isolation measurement returned too few samples")
            iso_med, plain_med = rep.percentile(raw["isolated_ms"], 50), rep.percentile(raw["plain_ms"], 50)
            isolation = {**raw, "isolated_median_ms": round(iso_med, 2), "plain_median_ms": round(plain_med, 2),
                         "isolated_p90_ms": round(rep.percentile(raw["isolated_ms"], 90), 2),
                         "plain_p90_ms": round(rep.percentile(raw["plain_ms"], 90), 2),
                         "overhead_ms": round(iso_med - plain_med, 2)}
        class_size = args.class_size if args.class_size is not None else (0 if args.assignments else 300)
        class_runs: list[dict] = []
        if class_size > 0:
            (root / "submitted").rename(root / "submitted-bench")
            started = time.monotonic()
            make_submissions(root, wanted, class_size, seed=args.seed)
            console.print(f"class of {class_size} × {len(wanted)} generated in {time.monotonic() - started:.1f} s")
            for i in range(max(1, args.repeat)):
                data, measured = _run_tool(f"class-{i + 1}", kit_cmd(f"class-{i + 1}", root / "submitted", False),
                                           env, work, args.timeout, console)
                class_runs.append({"wall_s": measured["wall_s"], "grading_wall_s": data["grading_wall_s"],
                                   "units": len(data["units"]),
                                   "cpu_median_s": rep.summary([u.get("cpu_s") for u in data["units"]])["median_s"],
                                   "median_s": rep.summary([u["seconds"] for u in data["units"]])["median_s"]})
    except BaseException:
        keep = True  # the logs explain what went wrong
        raise
    finally:
        if keep:
            console.print(f"kept the course and logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    kinds = {(s.student_id, s.assignment): s for s in submissions}
    kit_units = {(u["student_id"], u["assignment"]): u for u in kit["units"]}
    nbg_units = {(u["student_id"], u["assignment"]): u for u in nbg["units"]} if nbg else {}
    assignments: dict[str, dict] = {}
    for task in wanted:
        subs = [s for s in submissions if s.assignment == task]
        k = [kit_units.get((s.student_id, task)) for s in subs]
        run_medians = [rep.summary([u["seconds"] for u in again["units"] if u["assignment"] == task])["median_s"]
                       for again in repeats]
        entry = {"n": len(subs), "mix": dict(Counter(s.kind for s in subs)),
                 "kit": {**rep.summary([u["seconds"] for u in k if u]),
                         "median_s": rep.median_of(run_medians), "run_medians_s": run_medians,
                         "cpu_median_s": rep.summary([u.get("cpu_s") for u in k if u])["median_s"],
                         "warm": rep.summary([u["seconds"] for u in k if u and not u.get("cold")]),
                         "cold_units": sum(1 for u in k if u and u.get("cold"))},
                 "full_at_max": {"kit": _full_at_max(subs, kit_units), "nbgrader": None}}
        if nbg:
            entry["nbgrader"] = rep.summary([nbg_units[(s.student_id, task)]["seconds"]
                                             for s in subs if (s.student_id, task) in nbg_units])
            entry["full_at_max"]["nbgrader"] = _full_at_max(subs, nbg_units)
            kit_median, nbg_median = entry["kit"]["median_s"], entry["nbgrader"]["median_s"]
            entry["ratio"] = round(nbg_median / kit_median, 2) if kit_median and nbg_median else None
        assignments[task] = entry

    kit_summary = _tool_summary(kit["units"], kit_run,
                                f"grader.run.GradeRun (make grade's engine), {kit['workers']} workers, force=True; "
                                "per unit: the seconds grade_unit measured")
    kit_summary["run_medians_s"] = [rep.summary([u["seconds"] for u in again["units"]])["median_s"]
                                    for again in repeats]
    kit_summary["median_s"] = rep.median_of(kit_summary["run_medians_s"])
    kit_summary["cpu_median_s"] = rep.summary([u.get("cpu_s") for u in kit["units"]])["median_s"]
    kit_summary["worker_start_s"] = kit.get("worker_start_s", [])
    kit_summary["warm"] = rep.summary([u["seconds"] for u in kit["units"] if not u.get("cold")])
    kit_summary["cold"] = rep.summary([u["seconds"] for u in kit["units"] if u.get("cold")])
    nbg_summary = None
    if nbg:
        nbg_summary = _tool_summary(nbg["units"], nbg_run,
                                    "NbGraderAPI.autograde(assignment, student), one call per student × assignment, "
                                    "one after another in one process; per unit: each call's wall time")
    per_sub = []
    for s in submissions:
        key = (s.student_id, s.assignment)
        ku, nu = kit_units.get(key, {}), nbg_units.get(key, {})
        kit_fields = ("seconds", "score", "max_score", "status", "failed", "cold", "worker")
        per_sub.append({**s.as_dict(), "kit": {x: ku.get(x) for x in kit_fields},
                        "nbgrader": ({x: nu.get(x) for x in ("seconds", "score", "max_score", "success", "failed",
                                                              "error")} if nbg else None)})
    notes += _notes(per_sub, kit, nbg, args)
    result = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command, "json": str(Path(args.json).resolve()),
        "n": args.n, "workers": kit["workers"], "cuda_requested": args.cuda, "cuda_available": cuda_available,
        "device": device, "environment": {**versions, "nbgrader": versions["nbgrader"] if nbg else None},
        "assignments": assignments, "kit": kit_summary, "nbgrader": nbg_summary,
        "ratio": (round(nbg_summary["median_s"] / kit_summary["median_s"], 2)
                  if nbg_summary and kit_summary["median_s"] and nbg_summary["median_s"] else None),
        "isolation": isolation, "submissions": per_sub, "notes": notes,
        "profile": _profile(kit["units"]), "class": _class(class_size, wanted, class_runs, nbg_units),
    }
    result["targets"] = rep.targets(result)
    return result


def _profile(units: list[dict]) -> dict | None:
    """Where the time of the first run's units went (its workers' first unit of an assignment left out)."""
    from bench.profile import summarise

    profiles = [u["profile"] for u in units if u.get("profile") and not u.get("cold")]
    return summarise(profiles) if profiles else None


def _class(size: int, wanted: list[str], runs: list[dict], nbg_units: dict) -> dict | None:
    """The generated class's wall time (median of the runs) beside nbgrader's for the same class, extrapolated
    from this run: ``size`` × its mean seconds per unit of each assignment, one unit after another."""
    if not runs:
        return None
    per_task = {}
    for task in wanted:
        seconds = [u["seconds"] for (_, a), u in nbg_units.items() if a == task and u.get("seconds")]
        per_task[task] = sum(seconds) / len(seconds) if seconds else None
    nbgrader = (round(sum(size * mean for mean in per_task.values()), 1)
                if per_task and all(v is not None for v in per_task.values()) else None)
    wall = rep.median_of([r["wall_s"] for r in runs])
    return {"students": size, "assignments": len(wanted), "units": size * len(wanted), "runs": runs,
            "wall_s": wall, "nbgrader_extrapolated_s": nbgrader,
            "ratio": round(nbgrader / wall, 1) if nbgrader and wall else None}


def _full_at_max(subs, units: dict) -> str:
    full = [s for s in subs if s.kind == "full"]
    good = [s for s in full if (u := units.get((s.student_id, s.assignment)))
            and u.get("score") is not None and u["score"] == u.get("max_score")]
    return f"{len(good)}/{len(full)}"


def _notes(per_sub: list[dict], kit: dict, nbg: dict | None, args) -> list[str]:
    notes = ["timings depend on the machine's load: compare the two tools within one run, not across runs",
             "the kit's workers start their zygotes before their first unit (see kit_driver); that start-up is "
             "in the kit's wall time, not in its per-unit seconds"]
    if nbg:
        notes.append("nbgrader's per-unit seconds are each api.autograde call (fresh kernel, whole notebook); "
                     "its process start-up is only in the wall time")
        failed = [p for p in per_sub if p["nbgrader"] and not p["nbgrader"]["success"]]
        if failed:
            notes.append(f"nbgrader autograde failed on {len(failed)} submission(s), e.g. "
                         f"{failed[0]['student_id']}/{failed[0]['assignment']}: "
                         f"{(failed[0]['nbgrader'].get('error') or '').strip().splitlines()[-1:] or ['?']}")
        for p in per_sub:
            if p["kind"] == "full" and p["nbgrader"] and p["nbgrader"]["failed"]:
                notes.append(f"nbgrader gave the unmodified solution of {p['assignment']} less than full marks "
                             f"({p['student_id']}: {p['nbgrader']['score']}/{p['nbgrader']['max_score']}, "
                             f"cells {', '.join(p['nbgrader']['failed'])})")
                break
    for tool in ("kit", "nbgrader"):
        missed = [p for p in per_sub if p["kind"] != "full" and p[tool] and p[tool]["score"] is not None
                  and p[tool]["score"] == p[tool]["max_score"]]
        if missed:
            examples = "; ".join(f"{p['assignment']}/{p['student_id']} {p['detail']}" for p in missed[:3])
            notes.append(f"{tool} gave full marks to {len(missed)} wrong submission(s): {examples}")
    for p in per_sub:
        if p["kind"] == "full" and p["kit"]["failed"]:
            notes.append(f"the kit gave the unmodified solution of {p['assignment']} less than full marks "
                         f"({p['student_id']}: {p['kit']['score']}/{p['kit']['max_score']}, "
                         f"tests {', '.join(p['kit']['failed'])})")
            break
    return notes


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=150)
    errors = Console(stderr=True)
    try:
        result = run(args, errors)
    except BenchError as err:
        errors.print(f"[red]error:[/] {escape(str(err))}", highlight=False)
        return 2
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    rep.print_report(result, console)
    if result.get("profile"):
        from bench.profile import print_profile

        print_profile(result["profile"], console)
    if not args.skip_report and not args.assignments:  # the class report and similar-code pairs, 300 and 2,000
        from bench import report_bench

        result["report"] = report_bench.run(workers=args.workers, console=console)
        path.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    if not args.skip_cluster:  # grading on Dask: overhead against the pool, the coordinator's capacity
        from bench import cluster

        result["cluster"] = cluster.run(args.workers or 2, 2000, REPO / "examples" / "submissions")
        result["targets"] += result["cluster"]["targets"]
        path.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
        cluster.print_report(result["cluster"], console)
    if args.strict and not all(t["ok"] for t in result["targets"]):
        return 1
    return 0
