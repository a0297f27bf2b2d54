"""The README's tables are generated from the tests and examples themselves: they must not drift."""
from __future__ import annotations

import json

from grader.course import project_root
from grader.docs import examples_table, points_table

README = (project_root() / "README.md").read_text(encoding="utf-8")


def test_readme_points_table_is_current():
    assert points_table() in README, "run `python -m grader points` and paste its table into README.md"


def test_readme_examples_table_is_current():
    expected = json.loads((project_root() / "examples" / "expected_scores.json").read_text(encoding="utf-8"))
    assert examples_table(expected) in README
