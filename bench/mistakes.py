"""Plausible wrong versions of a solution cell, made by small generic edits of its source.

Every edit stays inside a ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region
(what a student writes) and knows nothing of the kit's helpers or tests:

- ``undone``: the whole cell as released (stubs that raise NotImplementedError),
  i.e. "one exercise left undone";
- ``off_by_one``: an integer literal ≥ 2 one too large (a wrong kernel size,
  channel count, pool size…);
- ``wrong_operator``: the first ``+``, ``-`` or ``*`` swapped (``+``→``-``,
  ``-``→``+``, ``*``→``+``);
- ``forgot_layer``: an activation/dropout/normalisation layer dropped from a
  list of layers (``nn.Sequential(conv, nn.ReLU(), …)``), or an
  ``x = relu(x)`` line dropped;
- ``return_constant``: the first ``return <expr>`` becomes ``return 0``.

Edits are made on the source text (by the AST's positions), so comments,
docstrings and the solution markers stay as the student had them.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

OPERATORS = ("off_by_one", "wrong_operator", "forgot_layer", "return_constant")
LAYERS = {"ReLU", "ReLU6", "LeakyReLU", "Dropout", "Dropout2d", "BatchNorm2d", "BatchNorm1d", "Tanh", "Sigmoid"}
SWAP = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "+")}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass(frozen=True)
class Mistake:
    grade_id: str
    operator: str
    source: str  # the whole cell's new source
    detail: str  # what changed, for the report

    @property
    def label(self) -> str:
        return f"{self.operator}:{self.grade_id}"


def _regions(source: str) -> list[tuple[int, int]]:
    """(first, last) 1-based line numbers strictly inside each solution region."""
    regions, start = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN in line:
            start = number
        elif END in line and start is not None:
            regions.append((start + 1, number - 1))
            start = None
    return regions


class _Text:
    """Maps the AST's (line, UTF-8 byte column) positions to offsets in the source string."""

    def __init__(self, source: str):
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def replace(self, start: int, end: int, text: str) -> str:
        return self.source[:start] + text + self.source[end:]


def _inside(node: ast.AST, regions: list[tuple[int, int]]) -> bool:
    return hasattr(node, "lineno") and any(a <= node.lineno and node.end_lineno <= b for a, b in regions)


def _walk(tree: ast.AST):
    """Nodes in source order (ast.walk is breadth-first)."""
    nodes = [n for n in ast.walk(tree) if hasattr(n, "lineno")]
    return sorted(nodes, key=lambda n: (n.lineno, n.col_offset))


def _layer_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Tuple) and len(node.elts) == 2:  # ("relu0", nn.ReLU(inplace=True)) in an OrderedDict
        node = node.elts[1]
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in LAYERS:
            return name
    return None


def _off_by_one(text: _Text, tree: ast.AST, regions) -> tuple[str, str] | None:
    for node in _walk(tree):
        if (_inside(node, regions) and isinstance(node, ast.Constant) and type(node.value) is int
                and node.value >= 2):
            start, end = text.span(node)
            detail = f"line {node.lineno}: {node.value} → {node.value + 1}"
            return text.replace(start, end, str(node.value + 1)), detail
    return None


def _wrong_operator(text: _Text, tree: ast.AST, regions) -> tuple[str, str] | None:
    for node in _walk(tree):
        if _inside(node, regions) and isinstance(node, ast.BinOp) and type(node.op) in SWAP:
            old, new = SWAP[type(node.op)]
            gap_start, gap_end = text.span(node.left)[1], text.span(node.right)[0]
            gap = text.source[gap_start:gap_end]
            if gap.count(old) != 1 or "#" in gap:
                continue
            return (text.replace(gap_start, gap_end, gap.replace(old, new)),
                    f"line {node.lineno}: '{old}' → '{new}'")
    return None


def _forgot_layer(text: _Text, tree: ast.AST, regions) -> tuple[str, str] | None:
    for node in _walk(tree):
        if not _inside(node, regions):
            continue
        if isinstance(node, ast.Call):
            items = node.args
        elif isinstance(node, (ast.List, ast.Tuple)):
            items = node.elts
        else:
            continue
        if len(items) < 2 or any(isinstance(i, ast.Starred) for i in items):
            continue
        for index, item in enumerate(items):
            name = _layer_name(item)
            if name is None:
                continue
            if index + 1 < len(items):  # drop "item, " up to the next element
                start, end = text.span(item)[0], text.span(items[index + 1])[0]
            else:  # the last one: drop ", item"
                start, end = text.span(items[index - 1])[1], text.span(item)[1]
            return text.replace(start, end, ""), f"line {item.lineno}: dropped {name}"
    for node in _walk(tree):  # x = relu(x) / out = self.relu(out) / x = F.relu(x)
        if (_inside(node, regions) and isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)
                and len(node.value.args) == 1 and isinstance(node.value.args[0], ast.Name)
                and node.value.args[0].id == node.targets[0].id):
            func = node.value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if re.search(r"relu|act", name, re.I):
                start = text.starts[node.lineno - 1]
                end = text.starts[node.end_lineno] if node.end_lineno < len(text.starts) else len(text.source)
                return text.replace(start, end, ""), f"line {node.lineno}: dropped `{ast.unparse(node)}`"
    return None


def _return_constant(text: _Text, tree: ast.AST, regions) -> tuple[str, str] | None:
    for node in _walk(tree):
        if (_inside(node, regions) and isinstance(node, ast.Return) and node.value is not None
                and not (isinstance(node.value, ast.Constant) and node.value.value == 0)):
            start, end = text.span(node.value)
            return text.replace(start, end, "0"), f"line {node.lineno}: returns 0"
    return None


EDITS = {"off_by_one": _off_by_one, "wrong_operator": _wrong_operator, "forgot_layer": _forgot_layer,
         "return_constant": _return_constant}


def mistakes_for_cell(grade_id: str, source: str, released_source: str | None) -> list[Mistake]:
    """Every mistake this module can make in one solution cell (at most one per kind)."""
    found = []
    if released_source is not None and released_source != source:
        found.append(Mistake(grade_id, "undone", released_source, "left as released (stub)"))
    regions = _regions(source)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    text = _Text(source)
    for name in OPERATORS:
        edit = EDITS[name](text, tree, regions)
        if edit is None:
            continue
        new_source, detail = edit
        try:
            ast.parse(new_source)
        except SyntaxError:
            continue
        if new_source != source:
            found.append(Mistake(grade_id, name, new_source, detail))
    return found
