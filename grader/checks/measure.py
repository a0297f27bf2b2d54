"""What a module is, measured the same way for a sandboxed student object and a local one.

A student's object lives in the sandbox (``RemoteObject``) and is measured there by
``grader.sandbox.describe``; the reference (or a module loaded in-process by the
project's own tests) is measured here by the same code.
"""
from __future__ import annotations

from grader.remote import RemoteObject
from grader.sandbox.describe import describe as describe_local
from grader.wire import Op, request

Layout = list[tuple[str, tuple[int, ...], str]]   # state_dict entries: (key, shape, dtype)


def describe(obj) -> dict:
    if isinstance(obj, RemoteObject):
        return obj._session.request(request(Op.DESCRIBE, target=obj))
    return describe_local(obj)


def param_count(module) -> int:
    return int(describe(module)["num_params"])


def layout_of(info: dict) -> Layout:
    """The state_dict layout inside a ``describe()`` answer (shapes as tuples)."""
    return [(key, tuple(shape), dtype) for key, shape, dtype in info["state_dict"]]


def state_dict_layout(module) -> Layout:
    return layout_of(describe(module))


def measure(module) -> tuple[int, Layout]:
    """Parameter count and state_dict layout from one description (one round trip for a student's module)."""
    info = describe(module)
    return int(info["num_params"]), layout_of(info)


def type_names(obj) -> list[str]:
    return list(obj._mro) if isinstance(obj, RemoteObject) else [c.__name__ for c in type(obj).__mro__]
