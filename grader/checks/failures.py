"""How a failed check reads: the message a student sees, what was checked, and its likely cause."""
from __future__ import annotations

import re
from typing import NoReturn

from grader.i18n import LANGUAGES, N_, _, translations

LIKELY_CAUSE = N_("Likely cause: {hint}")
"""The line a failure ends with when the test knows the likely cause (the class report counts them)."""
NOT_DEFINED = N_("name '{name}' is not defined in your notebook")
"""The sandbox's answer for a name the notebook lacks (grader/sandbox/runtime.py writes it in English: the
project, catalogs included, is hidden from the sandbox); ``sandbox_words`` translates it here."""
_NOT_DEFINED = re.compile(r"name '(?P<name>[^']*)' is not defined in your notebook")


class CheckFailed(AssertionError):
    """A failed check; its text is shown to the student as is."""


def fail(message: str, hint: str = "") -> NoReturn:
    raise CheckFailed(message + ("\n" + _(LIKELY_CAUSE, hint=hint) if hint else ""))


def sandbox_words(message: str) -> str:
    """An error message, with the sandbox's own English words (not the student's) in the run's language."""
    found = _NOT_DEFINED.fullmatch(message)
    return _(NOT_DEFINED, name=found["name"]) if found else message


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
