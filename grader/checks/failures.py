"""How a failed check reads: the message a student sees, what was checked, and its likely cause."""
from __future__ import annotations

from typing import NoReturn

from grader.i18n import _


class CheckFailed(AssertionError):
    """A failed check; its text is shown to the student as is."""


def fail(message: str, hint: str = "") -> NoReturn:
    raise CheckFailed(message + ("\n" + _("Likely cause: {hint}", hint=hint) if hint else ""))


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
