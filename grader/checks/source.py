"""Static checks of a cell's source, read in the trusted process (never run here)."""
from __future__ import annotations

import ast

from grader.checks.failures import fail
from grader.i18n import _


def calls_in_source(source: str, forbidden: set[str]) -> list[str]:
    """Names from ``forbidden`` that the source calls or references (``F.relu``, ``torch.relu``, ``nn.ReLU``...)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in forbidden:
            found.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in forbidden:
            found.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in forbidden:
            found.add(node.value)
    return sorted(found)


def exercise_source(submission: dict | None, grade_id: str, hint: str) -> str:
    """The source of the cell ``grade_id``; a missing cell fails the check (the student deleted or copied it)."""
    source = (submission or {}).get(grade_id)
    if source is None:
        fail(_("the {grade_id} cell (grade_id '{grade_id}') was not found in your notebook.", grade_id=grade_id), hint)
    return source
