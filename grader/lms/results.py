"""Read the kit's per-unit results (``grades/results/<student>/<assignment>.json``), the one source of scores."""
from __future__ import annotations

import json
from pathlib import Path


def load_results(grades: Path, assignments: list[str] | None = None) -> tuple[dict[tuple[str, str], dict], list[str]]:
    """``{(student_id, assignment): result}`` and one line per results file that could not be read."""
    folder = grades / "results"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist: run `make grade` (or python -m grader grade) first")
    results: dict[tuple[str, str], dict] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*/*.json")):
        if assignments and path.stem not in assignments:
            continue
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
            key = (str(result["student_id"]), str(result["assignment"]))
            float(result["score"]), float(result["max_score"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            problems.append(f"{path}: unreadable result ({type(err).__name__}: {err}); not exported")
            continue
        results[key] = result
    return results, problems


def fmt_points(value: float) -> str:
    """Points as the gradebooks show them: 30, 30.5 (no trailing zeros, at most two decimals)."""
    return f"{round(float(value), 2):g}"


def scaled(score: float, max_score: float, platform_max: float | None) -> tuple[float, str]:
    """The score on the platform's scale, and a note when it had to be rescaled (never silently)."""
    if platform_max is None or max_score <= 0 or score == 0 or abs(platform_max - max_score) < 1e-9:
        return score, ""
    return score * platform_max / max_score, (f"rescaled {fmt_points(score)}/{fmt_points(max_score)} to the "
                                              f"platform's maximum of {fmt_points(platform_max)}")
