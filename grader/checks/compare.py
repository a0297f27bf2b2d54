"""Compare what the student's code gave with what was expected, and name the likely cause.

A wrong output is matched against known wrong variants (the same computation with one
typical mistake, built from the reference's own layers): the first that matches names it.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable

import torch

from grader.checks.failures import fail, fmt
from grader.checks.tolerance import FLOAT32_CPU, FLOAT64
from grader.i18n import _
from grader.remote import RemoteObject

Variants = Iterable[tuple[torch.Tensor | None, str]]   # (output with one mistake, the mistake in words)


def assert_equal(what: str, got, expected, hint: str = "") -> None:
    if type(got) is not type(expected) and not (isinstance(got, (int, float)) and isinstance(expected, (int, float))
                                                and not isinstance(got, bool)):
        fail(_("{what}: expected {expected} ({expected_type}), got {got} ({got_type}).", what=what,
               expected=fmt(expected), expected_type=type(expected).__name__, got=fmt(got),
               got_type=type(got).__name__), hint)
    if got != expected:
        fail(_("{what}: expected {expected}, got {got}.", what=what, expected=fmt(expected), got=fmt(got)), hint)


def assert_tensor(what: str, got, *, shape=None, dtype=None, device=None, hint: str = "") -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        fail(_("{what}: expected a tensor, got {got}.", what=what,
               got=type(got).__name__ if not isinstance(got, RemoteObject) else repr(got)), hint)
    if shape is not None and tuple(got.shape) != tuple(shape):
        fail(_("{what}: expected shape {expected}, got {got}.", what=what, expected=tuple(shape),
               got=tuple(got.shape)), hint)
    if dtype is not None and got.dtype != dtype:
        fail(_("{what}: expected dtype {expected}, got {got}.", what=what, expected=dtype, got=got.dtype),
             hint or _("keep the input's dtype"))
    if device is not None and got.device.type != torch.device(device).type:
        fail(_("{what}: expected a tensor on {expected}, got one on {got}.", what=what,
               expected=torch.device(device).type, got=got.device.type),
             hint or _("create new tensors on the input's device (e.g. torch.zeros_like(x) or device=x.device)"))
    return got


def assert_same_output(got, expected: torch.Tensor, what: str, hint: str = "", atol: float = FLOAT32_CPU["atol"],
                       rtol: float = FLOAT32_CPU["rtol"]) -> None:
    assert_tensor(what, got, shape=expected.shape, dtype=expected.dtype, device=expected.device.type, hint=hint)
    if expected.device.type == "meta":
        return
    got64, exp64 = got.detach().double().cpu(), expected.detach().double().cpu()
    if not torch.allclose(got64, exp64, atol=atol, rtol=rtol, equal_nan=True):
        diff = (got64 - exp64).abs()
        where = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0]) if diff.numel() else ()
        fail(_("{what}: values differ from the reference by up to {difference:.3g} at index {index} "
               "(allowed {atol:g} + {rtol:g}·|reference|).", what=what, difference=diff.max().item(), index=where,
               atol=atol, rtol=rtol), hint)


def close(a, b: torch.Tensor, atol: float = FLOAT64["atol"], rtol: float = FLOAT64["rtol"]) -> bool:
    """``a`` is a tensor of b's shape with b's values (compared in float64 on the CPU)."""
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(
        a.detach().double().cpu(), b.detach().double().cpu(), atol=atol, rtol=rtol)


def matching_variant(got, variants: Variants, **tol) -> str:
    """The explanation of the first known wrong variant that ``got`` equals, else ""."""
    for out, explanation in variants:
        if out is not None and close(got, out, **tol):
            return explanation
    return ""


def diagnose(got, expected: torch.Tensor, ref: torch.nn.Module, mode: str,
             variants: Callable[[torch.nn.Module], Variants], **tol) -> str:
    """If the student's output is wrong but equals a known wrong variant, say which mistake it is.

    ``variants(r)`` computes the variants with ``r``, a copy of the reference module in ``mode`` ("eval" or
    "train"); it runs only when the output is wrong.
    """
    if not isinstance(got, torch.Tensor) or close(got, expected, **tol):
        return ""
    r = copy.deepcopy(ref).train(mode == "train")
    with torch.no_grad():
        return matching_variant(got, ((None if out is None else out.to(expected.dtype), why)
                                      for out, why in variants(r)), **tol)
