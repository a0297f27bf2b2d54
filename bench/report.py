"""Statistics, the targets, and the printed tables of the benchmark."""
from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

TARGETS = {
    "ratio": 20.0,  # nbgrader median / kit median, per assignment, at least
    "kit_median_s": 0.25,  # kit median per student × assignment, at most (per assignment and over all)
    "class_s_per_1500_units": 240.0,  # a class of 300 × 5 graded, wall time, below (scaled for other sizes)
    "isolation_overhead_ms": 100.0,  # per child, at most
    "kit_peak_mib": 4096.0,  # peak memory of the grading run, below
}


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    position = (len(data) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return data[low] + (data[high] - data[low]) * (position - low)


def median_of(values: list[float | None]) -> float | None:
    """The median of several runs' figures (the targets are judged on the median of three runs)."""
    return _round(percentile([v for v in values if v is not None], 50))


def summary(values: list[float]) -> dict:
    return {"median_s": _round(percentile(values, 50)), "p90_s": _round(percentile(values, 90)),
            "count": len([v for v in values if v is not None])}


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def targets(report: dict) -> list[dict]:
    rows = []
    for task, entry in report["assignments"].items():
        if entry.get("ratio") is not None:
            rows.append({"name": f"{task}: nbgrader median / kit median", "target": f"≥ {TARGETS['ratio']:g}×",
                         "value": entry["ratio"], "ok": entry["ratio"] >= TARGETS["ratio"]})
    for task, entry in report["assignments"].items():
        median = entry["kit"]["median_s"]
        if median is not None:
            rows.append({"name": f"{task}: kit median per student × assignment",
                         "target": f"≤ {TARGETS['kit_median_s']:g} s", "value": median,
                         "ok": median <= TARGETS["kit_median_s"]})
    median = report["kit"]["median_s"]
    if median is not None:
        rows.append({"name": "all: kit median per student × assignment", "target": f"≤ {TARGETS['kit_median_s']:g} s",
                     "value": median, "ok": median <= TARGETS["kit_median_s"]})
    group = report.get("class")
    if group and group.get("wall_s") is not None:
        limit = TARGETS["class_s_per_1500_units"] * group["units"] / 1500
        scaled = "" if group["units"] == 1500 else f" (4 min for 300 × 5, scaled to {group['units']} units)"
        rows.append({"name": f"a generated class of {group['students']} × {group['assignments']}: wall s, "
                             f"{report['workers']} workers{scaled}",
                     "target": f"< {limit:g} s", "value": group["wall_s"], "ok": group["wall_s"] < limit})
    iso = report.get("isolation")
    if iso and iso.get("overhead_ms") is not None:
        rows.append({"name": "isolation overhead per child (median isolated − plain)",
                     "target": f"≤ {TARGETS['isolation_overhead_ms']:g} ms", "value": iso["overhead_ms"],
                     "ok": iso["overhead_ms"] <= TARGETS["isolation_overhead_ms"]})
    memory = report["kit"]["memory"]
    for key, what in (("peak_rss_mib", "summed RSS: pages shared with the zygote count once per process"),
                      ("peak_pss_mib", "summed PSS: shared pages split among their sharers")):
        rows.append({"name": f"peak memory of the kit's grading run, MiB ({what})",
                     "target": f"< {TARGETS['kit_peak_mib'] / 1024:g} GiB", "value": memory[key],
                     "ok": memory[key] < TARGETS["kit_peak_mib"]})
    return rows


def _s(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_report(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    nbg = report.get("nbgrader")
    table = Table(title=f"Grading time per student × assignment (seconds), N = {report['n']} per assignment",
                  caption="ratio = nbgrader median / kit median", show_lines=False)
    table.add_column("assignment")
    table.add_column("N", justify="right")
    table.add_column("mix full/stub/mistake", justify="center")
    table.add_column("kit median", justify="right")
    table.add_column("kit p90", justify="right")
    table.add_column("kit CPU\nmedian", justify="right")
    table.add_column("nbgrader median", justify="right")
    table.add_column("nbgrader p90", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("full marks at max\nkit / nbgrader", justify="center")
    for task, entry in report["assignments"].items():
        mix = entry["mix"]
        nb = entry.get("nbgrader") or {}
        table.add_row(task, str(entry["n"]), f"{mix.get('full', 0)}/{mix.get('stub', 0)}/{mix.get('mistake', 0)}",
                      _s(entry["kit"]["median_s"]), _s(entry["kit"]["p90_s"]), _s(entry["kit"].get("cpu_median_s")),
                      _s(nb.get("median_s")), _s(nb.get("p90_s")),
                      "—" if entry.get("ratio") is None else f"{entry['ratio']:.1f}×",
                      f"{entry['full_at_max']['kit']} / "
                      + ("—" if entry["full_at_max"].get("nbgrader") is None else entry["full_at_max"]["nbgrader"]))
    kit = report["kit"]
    table.add_section()
    table.add_row("all", str(kit["units"]), "", _s(kit["median_s"]), _s(kit["p90_s"]), _s(kit.get("cpu_median_s")),
                  _s(nbg["median_s"]) if nbg else "—", _s(nbg["p90_s"]) if nbg else "—",
                  "—" if report.get("ratio") is None else f"{report['ratio']:.1f}×", "")
    console.print(table)
    if len(kit.get("run_medians_s") or []) > 1:
        console.print(f"kit medians of the {len(kit['run_medians_s'])} runs: "
                      + ", ".join(_s(m) for m in kit["run_medians_s"])
                      + " s; the table's kit medians are the median of the runs' medians (per assignment too)")
    console.print("kit CPU = the trusted worker's CPU seconds per unit (the sandboxed child's are not in it)")

    runs = Table(title="Whole runs (each tool in its own process tree, one after the other)")
    runs.add_column("tool")
    runs.add_column("units", justify="right")
    runs.add_column("wall s", justify="right")
    runs.add_column("wall s / unit", justify="right")
    runs.add_column("peak RSS MiB\n(summed)", justify="right")
    runs.add_column("peak PSS MiB", justify="right")
    runs.add_column("processes\n(peak)", justify="right")
    for name, entry in (("kit (make grade)", kit), ("nbgrader autograde", nbg)):
        if not entry:
            continue
        mem = entry["memory"]
        runs.add_row(name, str(entry["units"]), _s(entry["wall_s"], 1), _s(entry["wall_per_unit_s"]),
                     f"{mem['peak_rss_mib']:.0f}", f"{mem['peak_pss_mib']:.0f}", str(mem["peak_processes"]))
    console.print(runs)
    group = report.get("class")
    if group:
        nbg_s = group["nbgrader_extrapolated_s"]
        walls = ", ".join(f"{r['wall_s']:.1f}" for r in group["runs"])
        console.print(f"class of {group['students']} × {group['assignments']} ({group['units']} units): kit "
                      f"{group['wall_s']:.1f} s wall (runs: {walls}; "
                      f"median per unit {_s(group['runs'][0]['median_s'])} s) vs nbgrader "
                      + (f"{nbg_s:.0f} s ({nbg_s / 60:.1f} min) extrapolated from this run's per-unit means, "
                         f"{group['ratio']:.1f}× slower" if nbg_s else "— (not run)"))
    console.print(f"kit: {kit['how']}")
    if kit.get("worker_start_s"):
        starts = ", ".join(f"{s:.1f}" for s in kit["worker_start_s"])
        console.print(f"kit: worker start-up (torch threads + zygote), not in per-unit times: {starts} s")
    cold, warm = kit.get("cold") or {}, kit.get("warm") or {}
    if cold.get("count"):
        console.print(f"kit: {cold['count']} of {kit['units']} units were their worker's first of that assignment "
                      f"(pytest collection, loading the reference solution): median {_s(cold['median_s'])} s; "
                      f"the other {warm.get('count', 0)}: median {_s(warm.get('median_s'))} s, "
                      f"p90 {_s(warm.get('p90_s'))} s")
    if nbg:
        console.print(f"nbgrader: {nbg['how']}")

    iso = report.get("isolation")
    if iso:
        sandbox = {"root": "full sandbox", "userns": "user-namespace sandbox (no root)"}.get(iso.get("sandbox"))
        console.print(f"Isolation overhead (fork → first answer, {iso['children']} children each, one zygote"
                      f"{'; ' + sandbox if sandbox else '; this machine cannot isolate: both are plain'}): "
                      f"isolated median {iso['isolated_median_ms']:.1f} ms (p90 {iso['isolated_p90_ms']:.1f}), "
                      f"plain median {iso['plain_median_ms']:.1f} ms (p90 {iso['plain_p90_ms']:.1f}), "
                      f"overhead {iso['overhead_ms']:.1f} ms per child")

    checks = Table(title="Targets")
    checks.add_column("")
    checks.add_column("what")
    checks.add_column("target", justify="right")
    checks.add_column("measured", justify="right")
    for row in report["targets"]:
        checks.add_row("[green]ok[/]" if row["ok"] else "[red]MISSED[/]", row["name"], row["target"],
                       f"{row['value']:g}")
    console.print(checks)
    env = report["environment"]
    console.print(f"device: {report['device']}   torch {env['torch']}   nbgrader {env['nbgrader'] or '—'}   "
                  f"python {env['python']}   {env['cpus']} CPUs   load average at start {env['load_average']}")
    for note in report["notes"]:
        console.print(f"note: {note}")
    console.print(f"reproduce: {report['command']}")
    console.print(f"JSON: {report['json']}")
