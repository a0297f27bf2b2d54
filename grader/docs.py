"""Tables for the README, generated from the hidden tests themselves so the documentation cannot drift."""
from __future__ import annotations

from grader.course import assignment, assignment_ids
from grader.unit import collect_tests


# Composite exercises and the exercises whose parts they are built from: their hidden tests judge the composite
# given the student's own parts (grader/checks/composite.py), so a part's mistake is charged in the part's tests.
GIVEN_PARTS = {
    "alexnet": {"relu_module": ("relu",)},
    "vgg": {"vgg": ("vgg_block",)},
    "inception": {"googlenet": ("inception",), "quiz": ("inception",)},
    "resnet": {"resnet": ("basic_block", "bottleneck")},
    "densenet": {"dense_block": ("dense_layer",), "densenet": ("dense_block", "transition")},
}


def _exercise_cell(task: str, exercise: str) -> str:
    parts = GIVEN_PARTS.get(task, {}).get(exercise)
    return f"`{exercise}`" + (f" (given {', '.join(f'`{p}`' for p in parts)})" if parts else "")


def points_table() -> str:
    totals, details = [], []
    for task in assignment_ids():
        tests = collect_tests(assignment(task))
        total = sum(t["max_points"] for t in tests)
        totals.append(f"| `{task}` | {len(tests)} | {total} |")
        rows = "\n".join(f"| {t['max_points']} | {_exercise_cell(task, t['exercise'])} | {t['title'] or t['name']} |"
                         for t in tests)
        details.append(f"<details><summary><code>{task}</code>: {total} points</summary>\n\n"
                       f"| points | exercise | what the hidden test checks |\n|---|---|---|\n{rows}\n\n</details>")
    head = "| assignment | hidden tests | points |\n|---|---|---|\n" + "\n".join(totals)
    return head + "\n\n" + "\n\n".join(details)


def examples_table(expected: dict[str, list]) -> str:
    """expected: {"student/assignment": [score, max_score, "what it shows"]} (examples/expected_scores.json)."""
    rows = "\n".join(f"| `{unit}` | {score:g} / {maximum:g} | {why} |" for unit, (score, maximum, why) in
                     expected.items())
    return "| submission | score | what it shows |\n|---|---|---|\n" + rows
