"""Loading the reference's weights into the student's module, so that outputs can be compared.

By name where the keys are torchvision's, else by shape in registration order; the test
says which (``how``). The weights cross the sandbox boundary by value.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from grader.checks.calls import passes_through
from grader.checks.failures import CheckFailed, fail
from grader.checks.measure import Layout, state_dict_layout
from grader.i18n import _
from grader.sandbox.client import StudentRaised


def load_weights(mine, ref) -> str:
    """Load the reference's weights (a module, or a state_dict) into the student's module: by name, else by shape
    in order. Returns "by name" or "by shape" so a test can say which alignment it used."""
    ref_sd = ref if isinstance(ref, dict) else ref.state_dict()
    layout = state_dict_layout(mine)
    if [key for key, _, _ in layout] == list(ref_sd):
        mine.load_state_dict(ref_sd)
        return "by name"
    ref_items = list(ref_sd.items())
    mine_shapes = [(key, shape) for key, shape, _ in layout]
    if len(mine_shapes) != len(ref_items) or any(tuple(t.shape) != shape for (_, shape), (_, t) in
                                                  zip(mine_shapes, ref_items)):
        missing = [k for k in ref_sd if k not in {key for key, _ in mine_shapes}][:5]
        extra = [k for k, _ in mine_shapes if k not in ref_sd][:5]
        fail(_("your module's parameters and buffers do not line up with the reference's, by name or by shape "
               "(reference has {n_reference} entries, yours {n_yours}; names only in the reference: {missing}; "
               "only in yours: {extra}).", n_reference=len(ref_items), n_yours=len(mine_shapes), missing=missing,
               extra=extra),
             _("compare your layers, their order and bias/BatchNorm settings with the description above the exercise"))
    mine.load_state_dict({key: tensor for (key, _), (_, tensor) in zip(mine_shapes, ref_items)})
    return "by shape"


def with_reference_weights(mine, ref, explain: Callable[[Layout, Layout], None] | None = None) -> str:
    """``load_weights(mine, ref)``; where they do not fit, ``explain(student layout, reference layout)`` may fail
    with the cause in the lecture's terms before the generic message."""
    try:
        return load_weights(mine, ref)
    except (CheckFailed, StudentRaised) as err:
        if isinstance(err, StudentRaised) and passes_through(err):
            raise
        if explain is not None:
            ref_sd = ref if isinstance(ref, dict) else ref.state_dict()
            explain(state_dict_layout(mine), [(k, tuple(v.shape), str(v.dtype).removeprefix("torch."))
                                             for k, v in ref_sd.items()])
        raise


def strided_weights(layout: Layout, seed: int, dtype: torch.dtype, step: int = 37) -> dict[str, torch.Tensor]:
    """Seeded weights for a whole model, whose big tensors are strided windows over small random vectors.

    Filter o starts ``step`` values after filter o - 1: torch.save keeps a view's storage, so the message holds
    ~step·out_channels + fan_in values per tensor instead of out_channels·fan_in; ``load_state_dict`` on the other
    side expands them. He-scaled weights, BN γ ≈ 1, running variance in 0.5..1.5, so activations stay O(1)-ish.
    """
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape, dt in layout:
        shape = tuple(shape)
        if dt not in ("float32", "float64"):
            out[key] = torch.zeros(shape, dtype=getattr(torch, dt))
            continue
        if len(shape) >= 2:
            fan_in = math.prod(shape[1:])
            stride = min(step, fan_in)
            base = (torch.rand((shape[0] - 1) * stride + fan_in, generator=g, dtype=torch.float64) * 2 - 1)
            base = (base * math.sqrt(6.0 / fan_in)).to(dtype)
            inner = [math.prod(shape[i + 1:]) for i in range(1, len(shape))]
            out[key] = base.as_strided(shape, (stride, *inner))
        else:
            u = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
            leaf = key.rsplit(".", 1)[-1]
            value = {"running_var": 0.5 + u ** 2, "running_mean": 0.1 * u, "weight": 1.0 + 0.1 * u}.get(leaf, 0.1 * u)
            out[key] = value.to(dtype)
    return out
