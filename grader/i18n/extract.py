"""Babel extraction for the hidden tests: the usual ``_``/``_n``/``N_`` calls, plus every test's title.

A hidden test's title is the first line of its docstring, and the feedback page shows it
to the student, so it must be translated like any message. Babel's own Python extractor
does not read docstrings; this method adds the first line of each ``test_*`` function's
docstring and leaves the rest to Babel (``babel.cfg`` names it for ``autograde_tests/``).
"""
from __future__ import annotations

import ast
from typing import IO, Any, Iterator

from babel.messages.extract import extract_python


def test_title(docstring: str | None) -> str:
    """What the grader shows as a test's title (and what the catalog must translate)."""
    lines = (docstring or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def extract_hidden_tests(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
                         options: dict) -> Iterator[tuple]:
    source = fileobj.read()
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            title = test_title(ast.get_docstring(node, clean=True))
            if title:
                yield node.body[0].lineno, None, title, [f"title of {node.name}"]
