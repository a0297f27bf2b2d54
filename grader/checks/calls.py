"""Calls into student code, with ONE policy for what can go wrong there.

- Not implemented yet (the released stub's bare ``raise NotImplementedError()``),
  a call that ran out of time, and every ``SandboxError`` pass through unchanged:
  the pytest plugin words them once for every test ("Not implemented yet: ...",
  "did not finish in time", what stopped the sandbox).
- Any other exception the student's code raised becomes a failure that says what
  was being checked and, where the test knows it, the likely cause.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch

from grader.checks.failures import fail, sandbox_words
from grader.i18n import N_, _
from grader.remote import RemoteObject
from grader.sandbox.client import StudentRaised
from grader.sandbox.describe import count_calls
from grader.wire import Op, request

# Words of torch's own messages about a tensor on the wrong device.
DEVICE_WORDS = ("device", "meta", "cpu", "cuda", "is_pinned", "expected all tensors")
NOT_ABOUT_DEVICES = N_("this error is not about devices: your code fails on this input whatever the device "
                       "(see the other tests' messages for this {subject})")


def is_not_implemented(err: StudentRaised) -> bool:
    """The released stub: a bare ``raise NotImplementedError()`` (torch's own NotImplementedErrors, e.g. an
    operator missing on the meta device, carry a message and are explained like any other error)."""
    return err.type_name == "NotImplementedError" and not err.message.strip()


def passes_through(err: StudentRaised) -> bool:
    """Errors the plugin words itself. (Timeouts never get here: the sandbox raises ``StudentTimeout``, a
    ``SandboxError``, which no check catches.)"""
    return is_not_implemented(err)


def not_implemented(grade_id: str, detail: str, hint: str = "") -> None:
    """Fail as the released stub of cell ``grade_id`` does: an answer still left as released (e.g. ``= None``)."""
    fail(_("Not implemented yet: cell {grade_id} {detail}.", grade_id=grade_id, detail=detail), hint)


def raised_message(what: str, err: StudentRaised) -> str:
    return _("{what}: your code raised {error_type}: {error_message}", what=what, error_type=err.type_name,
             error_message=sandbox_words(err.message)) + (f"\n{err.traceback}" if err.traceback else "")


@contextmanager
def explained(what: str, hint: str = "", explain: Callable[[StudentRaised], str] | None = None):
    """An exception raised by the student's code in this block fails the check with ``what`` and the likely
    cause: ``explain(err)`` where it recognises the error, else ``hint``."""
    try:
        yield
    except StudentRaised as err:
        if passes_through(err):
            raise
        fail(raised_message(what, err), (explain(err) if explain else "") or hint)


def call(what: str, fn, *args, hint: str = "", **kwargs):
    """``fn(*args, **kwargs)`` under the policy above."""
    with explained(what, hint):
        return fn(*args, **kwargs)


def on_meta(what: str, fn: Callable, hint: str, subject: str | None = None,
            explain: Callable[[StudentRaised], str] | None = None):
    """Run ``fn()`` (student code on the meta device): an error about devices fails with ``hint``; any other
    error is not about devices, so the failure says so (``explain`` may name its cause instead)."""
    def cause(err: StudentRaised) -> str:
        if any(word in err.message.lower() for word in DEVICE_WORDS):
            return hint
        return (explain(err) if explain else "") or _(NOT_ABOUT_DEVICES, subject=subject or _("module"))
    with explained(what, explain=cause):
        return fn()


def call_on(device: str, fn, *args, **kwargs):
    """Call ``fn`` with ``torch.device(device)`` as the default device (e.g. build a model on ``meta``)."""
    if isinstance(fn, RemoteObject):
        return fn._session.request(request(Op.CALL, target=fn, args=list(args), kwargs=kwargs, device=device))
    with torch.device(device):
        return fn(*args, **kwargs)


def functions_called(fn, args: tuple, names: set[str]):
    """Run ``fn(*args)`` and report which torch functions in ``names`` it called (value, names)."""
    if isinstance(fn, RemoteObject):
        reply = fn._session.request(request(Op.CALL, target=fn, args=list(args), kwargs={}, trace=sorted(names)))
        return reply["result"], list(reply["called"])
    return count_calls(lambda: fn(*args), names)


def call_keeping_inputs(fn, *args):
    """Call ``fn(*args)`` and also return the arguments as they are after the call (to catch in-place edits)."""
    if isinstance(fn, RemoteObject):
        reply = fn._session.request(request(Op.CALL, target=fn, args=list(args), kwargs={}, return_args=True))
        return reply["result"], list(reply["args"])
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    return fn(*copies), copies


def expect_student_error(call_it: Callable, expected: str, what: str, hint: str = "") -> StudentRaised:
    """``call_it()`` must make the student's code raise ``expected`` (by class name, subclasses accepted)."""
    try:
        call_it()
    except StudentRaised as err:
        if err.is_a(expected):
            return err
        if passes_through(err):
            raise
        fail(_("{what}: expected {expected}, but your code raised {error_type}: {error_message}", what=what,
               expected=expected, error_type=err.type_name, error_message=err.message), hint)
    except Exception as err:  # a local object raising its own Python exception
        if expected in [c.__name__ for c in type(err).__mro__]:
            return StudentRaised(type(err).__name__, [c.__name__ for c in type(err).__mro__], str(err))
        raise
    fail(_("{what}: expected {expected} to be raised, but nothing was raised.", what=what, expected=expected),
         hint)
