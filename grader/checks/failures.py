"""How a failed check reads: the message a student sees, what was checked, and its likely cause."""
from __future__ import annotations

from typing import NoReturn

from grader.i18n import LANGUAGES, N_, _, translations

LIKELY_CAUSE = N_("Likely cause: {hint}")
"""The line a failure ends with when the test knows the likely cause (the class report counts them)."""


class CheckFailed(AssertionError):
    """A failed check; its text is shown to the student as is."""


def fail(message: str, hint: str = "") -> NoReturn:
    raise CheckFailed(message + ("\n" + _(LIKELY_CAUSE, hint=hint) if hint else ""))


def likely_cause_prefixes() -> tuple[str, ...]:
    """How the likely-cause line starts in every language ("Likely cause: ", "예상 원인: "), for code that reads
    the causes back out of messages written in any of them."""
    return tuple(dict.fromkeys(translations("grader", lang).gettext(LIKELY_CAUSE).split("{hint}")[0]
                               for lang in LANGUAGES))


def fmt(value) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def signature(name: str, args: tuple = (), kwargs: dict | None = None) -> str:
    """How a call is named in a message: ``Inception(192, 64, ...)``, ``DenseNet(growth_rate=12, ...)``."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in (kwargs or {}).items()]
    return f"{name}({', '.join(parts)})"
