"""Tables from a wrong answer to its likely cause: parameter totals, and formulas computed the wrong way.

A hidden test states the typical mistakes of its lecture point as data, e.g.
``{62_378_344: "the 2012 paper's widths ..."}`` for AlexNet's parameter total, or
``[(formula_that_ignores_strides, "the strides are ignored ...")]`` for the receptive
field; these helpers look the wrong answer up.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from grader.checks.failures import fail
from grader.checks.measure import param_count
from grader.i18n import _


def count_failure(what: str, got: int, expected: int, hint: str = "") -> None:
    """The one wording of a wrong parameter count."""
    fail(_("{what}: parameter count {got:,} ≠ {expected:,} (difference {difference:+,}).", what=what, got=got,
           expected=expected, difference=got - expected), hint)


def assert_total(what: str, got: int, expected: int, known: Mapping[int, str] | Callable[[int], str],
                 hint: str = "") -> None:
    """``got`` must be ``expected``; a wrong total is looked up in ``known`` (a table, or a function that
    returns "" when it does not recognise it), else ``hint`` is the likely cause."""
    if got != expected:
        cause = known.get(got, "") if isinstance(known, Mapping) else known(got)
        count_failure(what, got, expected, cause or hint)


def assert_param_count(what: str, module, expected: int, hint: str = "") -> None:
    got = param_count(module)
    if got != expected:
        count_failure(what, got, expected, hint)


def subset_sums(values: Sequence[int]) -> set[int]:
    """Positive sums of subsets of ``values``: e.g. the parameter surplus of biases on some of the layers."""
    sums = {0}
    for v in values:
        sums |= {s + v for s in sums}
    return sums - {0}


def cause_of_all(wrong: Sequence[tuple[tuple, object]], formulas: Sequence[tuple[Callable, str]]) -> str:
    """The cause of the first wrong formula that reproduces EVERY wrong answer, else "".

    ``wrong``: [(arguments, the student's answer)]; ``formulas``: [(formula(*arguments), the mistake in words)].
    Several mistakes can coincide on a single case; the one that explains all of them is named.
    """
    for formula, cause in formulas:
        if all(formula(*args) == got for args, got in wrong):
            return cause
    return ""
