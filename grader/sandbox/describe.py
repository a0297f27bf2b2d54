"""A by-value description of a module, computed the same way inside and outside the sandbox.

Hidden tests ask for parameter counts, ``state_dict`` layouts and children
through this one function, so a reference module (local) and a student module
(remote) are measured by identical code. What the sandbox reports is never
trusted alone: tests cross-check it by behaviour (loading reference weights
must reproduce the reference output).
"""
from __future__ import annotations

import torch
from torch import nn


def type_names(obj) -> list[str]:
    """The class and its bases by name, e.g. ['DenseBlock', 'ModuleDict', 'Module', 'object']."""
    return [cls.__name__ for cls in type(obj).__mro__]


def describe(obj) -> dict:
    info: dict = {"type": type(obj).__name__, "mro": type_names(obj), "is_module": isinstance(obj, nn.Module)}
    if not isinstance(obj, nn.Module):
        return info
    params = list(obj.named_parameters())
    info.update(
        training=obj.training,
        num_params=sum(p.numel() for _, p in params),
        num_trainable=sum(p.numel() for _, p in params if p.requires_grad),
        parameters=[(name, tuple(p.shape)) for name, p in params],
        state_dict=[(key, tuple(t.shape), str(t.dtype).replace("torch.", ""))
                    for key, t in obj.state_dict(keep_vars=True).items()],
        children=[(name, type(child).__name__) for name, child in obj.named_children()],
        devices=sorted({str(t.device.type) for t in list(obj.parameters()) + list(obj.buffers())}),
    )
    return info


def count_calls(fn, names: set[str]):
    """Run ``fn`` and record which torch functions among ``names`` it called (by __name__)."""
    seen: list[str] = []

    class Recorder(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if name in names:
                seen.append(name)
            return func(*args, **(kwargs or {}))

    with Recorder():
        result = fn()
    return result, sorted(set(seen))
