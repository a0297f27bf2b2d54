"""``state_dict`` layouts: the reference's, torchvision's (committed), and the check that compares them.

A student's model must load torchvision's pretrained weights, so its keys, shapes and
order must be torchvision's. Every failure says against what it compared: torchvision's
committed layout (``tests/data/torchvision/<model>.json``) or the reference solution's.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch

from grader.checks.failures import fail
from grader.checks.measure import Layout, state_dict_layout
from grader.i18n import N_, _, _n

TORCHVISION_DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "torchvision"
TORCHVISION, REFERENCE = N_("torchvision's"), N_("the reference's")
"""What a layout was compared against, in English (compare with ``==``); ``_(against)`` is how a message says it."""


@lru_cache(maxsize=None)
def torchvision_model(name: str) -> tuple[int, Layout] | None:
    """(parameter count, state_dict layout) of torchvision's ``name`` as committed, or None where it is absent."""
    path = TORCHVISION_DATA / f"{name}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["num_params"], [(k, tuple(s), d) for k, s, d in data["state_dict"]]


def reference_layout(build: Callable[[], torch.nn.Module]) -> Layout:
    """The layout of a reference module built on the meta device (no weights are made)."""
    with torch.device("meta"):
        return state_dict_layout(build())


def layout_differences(mine: Layout, expected: Layout) -> tuple[list[str], list[str], list[tuple]]:
    """(missing keys, unexpected keys, [(key, expected shape, got shape)])."""
    exp = {k: s for k, s, _ in expected}
    got = {k: s for k, s, _ in mine}
    wrong = [(k, exp[k], got[k]) for k in exp if k in got and tuple(exp[k]) != tuple(got[k])]
    return [k for k in exp if k not in got], [k for k in got if k not in exp], wrong


def assert_same_layout(what: str, mine: Layout, expected: Layout, hint_for, order_hint: str,
                       against: str = TORCHVISION) -> None:
    """Compare state_dict layouts [(key, shape, dtype)]: keys, then shapes, then order.

    ``hint_for(missing, extra, wrong_shapes)`` turns a difference into its likely cause in the lecture's terms
    (each assignment knows its own typical mistakes); ``order_hint`` says which order torchvision registers the
    submodules in; ``against`` names what ``expected`` is (TORCHVISION or REFERENCE).
    """
    missing, extra, wrong = layout_differences(mine, expected)
    if missing or extra:
        fail(_("{what}: the state_dict keys differ from {against} ({n_expected} entries expected, {n_got} came). "
               "Missing: {missing}{more_missing}; unexpected: {extra}{more_extra}.", what=what, against=_(against),
               n_expected=len(expected), n_got=len(mine), missing=missing[:5],
               more_missing=' …' if len(missing) > 5 else '', extra=extra[:5],
               more_extra=' …' if len(extra) > 5 else ''), hint_for(missing, extra, []))
    if wrong:
        listed = "; ".join(_("{key}: expected {expected}, got {got}", key=k, expected=tuple(e), got=tuple(g))
                           for k, e, g in wrong[:4])
        fail(_n("{what}: {n} state_dict entry has the wrong shape ({listed}{more}).",
                "{what}: {n} state_dict entries have the wrong shape ({listed}{more}).", len(wrong), what=what,
                listed=listed, more=' …' if len(wrong) > 4 else ''), hint_for([], [], wrong))
    if [k for k, _, _ in mine] != [k for k, _, _ in expected]:
        first = next(i for i, (a, b) in enumerate(zip(mine, expected)) if a[0] != b[0])
        words = (N_("{what}: the state_dict has the right keys but in a different order (entry {index} is "
                    "{mine!r}, torchvision has {expected!r} there).") if against == TORCHVISION else
                 N_("{what}: the state_dict has the right keys but in a different order (entry {index} is "
                    "{mine!r}, the reference has {expected!r} there)."))
        fail(_(words, what=what, index=first, mine=mine[first][0], expected=expected[first][0]), order_hint)


def assert_same_dtypes(what: str, mine: Layout, expected: Layout, hint: str, expected_words: str) -> None:
    """Same dtypes entry by entry (after the keys matched): e.g. no float64 model, BN counters int64."""
    dtypes = [(k, d) for (k, _, d), (_, _, e) in zip(mine, expected) if d != e]
    if dtypes:
        fail(_("{what}: {key} has dtype {dtype}, torchvision's is {expected}.", what=what, key=dtypes[0][0],
               dtype=dtypes[0][1], expected=expected_words), hint)
