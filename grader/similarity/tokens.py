"""A cell's code as a stream of normalised tokens, each with the line it came from.

Normalising is what makes a renamed copy look like its original: every identifier that is not a keyword
or a builtin becomes ``v``, every number ``1``, every string ``s``; comments, blank lines and indentation
are dropped. Python's own ``tokenize`` does the lexing (a hand-written lexer would get strings and
f-strings wrong); a cell that does not tokenize to the end keeps the tokens read so far.
"""
from __future__ import annotations

import builtins
import io
import keyword
import tokenize
from typing import NamedTuple

_KEEP_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
         tokenize.ENDMARKER}
_FSTRING_PARTS = {getattr(tokenize, name) for name in ("FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, name)}
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)


class Token(NamedTuple):
    text: str  # the normalised token
    line: int  # 1-based line in the cell's source


def stub_lines(source: str, stub: str) -> set[int]:
    """Line numbers of SOURCE whose text (stripped) also appears in the released cell STUB: MOSS's base file.

    Signatures, docstrings and the release's comments are contract, not the student's own code.
    """
    released = {line.strip() for line in stub.splitlines() if line.strip()}
    return {number for number, line in enumerate(source.splitlines(), start=1) if line.strip() in released}


def _normalise(kind: int, text: str) -> str | None:
    if kind in _SKIP or kind in _FSTRING_PARTS:
        return None
    if kind == tokenize.NAME:
        return text if text in _KEEP_NAMES else "v"
    if kind == tokenize.NUMBER:
        return "1"
    if kind == tokenize.STRING or kind == _FSTRING_START:
        return "s"
    if kind == tokenize.ERRORTOKEN and not text.strip():
        return None
    return text


def normalised_tokens(source: str, skip_lines: set[int] | frozenset = frozenset()) -> list[Token]:
    """The normalised tokens of SOURCE, leaving out those that start on SKIP_LINES."""
    tokens: list[Token] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            text = _normalise(tok.type, tok.string)
            if text is not None and tok.start[0] not in skip_lines:
                tokens.append(Token(text, tok.start[0]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # a syntax error mid-cell: the tokens before it still count
    return tokens
