"""A by-value description of a module, computed the same way inside and outside the sandbox.

Hidden tests ask for parameter counts, ``state_dict`` layouts and children
through this one function, so a reference module (local) and a student module
(remote) are measured by identical code. What the sandbox reports is never
trusted alone:

- the description carries a second, independent account of the module
  (``raw``: read straight from each module's registered ``_parameters``,
  ``_buffers`` and ``_modules``, not through ``parameters()``,
  ``named_parameters()`` or ``state_dict()``, which a submission can
  override or patch), and the trusted side refuses a description whose two
  accounts disagree (``verify``): patching one of them to fake a count or a
  layout earns nothing;
- tests cross-check structure by behaviour (loading the reference's weights
  must reproduce the reference's output), which no consistent fake survives.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from grader.i18n import N_, _

_getattr = object.__getattribute__


class InconsistentDescription(ValueError):
    """Two accounts of the same module disagree: the description was faked or the module is inconsistent."""


def type_names(obj) -> list[str]:
    """The class and its bases by name, e.g. ['DenseBlock', 'ModuleDict', 'Module', 'object']."""
    return [cls.__name__ for cls in type(obj).__mro__]


def _dtype(t) -> str:
    return str(t.dtype).replace("torch.", "")


def raw_structure(module: nn.Module) -> dict:
    """The module's parameters, state and children read from its registration dicts, as nn.Module itself does.

    Mirrors ``named_parameters()`` (modules and shared parameters counted once),
    ``state_dict()`` (parameters, then persistent buffers, then each child) and
    ``named_children()``, without calling any method the module's class could override.
    """
    params: list = []
    seen_modules: set[int] = set()
    seen_params: set[int] = set()

    def walk_params(m, prefix: str) -> None:
        if id(m) in seen_modules:
            return
        seen_modules.add(id(m))
        for name, p in _getattr(m, "_parameters").items():
            if p is not None and id(p) not in seen_params:
                seen_params.add(id(p))
                params.append((prefix + name, tuple(p.shape), bool(p.requires_grad)))
        for name, child in _getattr(m, "_modules").items():
            if child is not None:
                walk_params(child, prefix + name + ".")

    state: list = []

    def walk_state(m, prefix: str, depth: int) -> None:
        if depth > 100:
            raise InconsistentDescription("the module nests more than 100 levels deep")
        for name, p in _getattr(m, "_parameters").items():
            if p is not None:
                state.append((prefix + name, tuple(p.shape), _dtype(p)))
        skip = _getattr(m, "_non_persistent_buffers_set")
        for name, b in _getattr(m, "_buffers").items():
            if b is not None and name not in skip:
                state.append((prefix + name, tuple(b.shape), _dtype(b)))
        for name, child in _getattr(m, "_modules").items():
            if child is not None:
                walk_state(child, prefix + name + ".", depth + 1)

    walk_params(module, "")
    walk_state(module, "", 0)
    children, seen_children = [], set()
    for name, child in _getattr(module, "_modules").items():
        if child is not None and id(child) not in seen_children:
            seen_children.add(id(child))
            children.append((name, type(child).__name__))
    return {"params": params, "state": state, "children": children}


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
        state_dict=[(key, tuple(t.shape), _dtype(t)) for key, t in obj.state_dict(keep_vars=True).items()],
        children=[(name, type(child).__name__) for name, child in obj.named_children()],
        devices=sorted({str(t.device.type) for t in list(obj.parameters()) + list(obj.buffers())}),
        raw=raw_structure(obj),
    )
    return info


STRUCTURAL_KEYS = ("num_params", "num_trainable", "parameters", "state_dict", "children")


def _lists(value):
    """Tuples as lists, recursively: JSON's own arrays travel and decode several times cheaper than tagged
    tuples (``grader.wire``); ``from_wire`` makes them tuples again."""
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    return value


def for_the_wire(info: dict) -> dict:
    """``describe()``'s answer as the child sends it: tuples as lists, and a reported list (``parameters``,
    ``state_dict``) left out (None) where it is exactly what the ``raw`` account implies, as in every module
    whose methods nobody overrode. That halves a description (a DenseNet-121's: 176 → 74 kB, 13 → 4 ms to send
    and decode). It weakens nothing: a module whose reported lists differ from its registrations still sends
    both, and ``verify`` refuses it; a child whose own code was patched could fake both accounts either way
    (what stops that is the behavioural cross-checks, see the module's docstring)."""
    out = {key: value for key, value in info.items() if key != "raw"}
    raw = info.get("raw")
    if not isinstance(raw, dict):
        return _lists(out)
    out["raw"] = {key: _lists(value) for key, value in raw.items()}
    if info.get("parameters") == [(name, shape) for name, shape, _ in raw["params"]]:
        out["parameters"] = None
    if info.get("state_dict") == raw["state"]:
        out["state_dict"] = None
    return {key: value if key == "raw" else _lists(value) for key, value in out.items()}


def from_wire(info):
    """A description as ``describe()`` gives it, from what the child sent (``for_the_wire``): the left-out
    lists filled in from ``raw``, the lists of pairs and shapes made tuples again. Anything malformed raises
    InconsistentDescription; ``verify`` comes next."""
    if not isinstance(info, dict) or not info.get("is_module"):
        return info
    try:
        raw = info["raw"]
        params = [(str(n), tuple(int(d) for d in s), bool(g)) for n, s, g in raw["params"]]
        state = [(str(k), tuple(int(d) for d in s), str(t)) for k, s, t in raw["state"]]
        out = {**info, "raw": {"params": params, "state": state,
                               "children": [(str(n), str(t)) for n, t in raw["children"]]}}
        reported = info["parameters"]
        out["parameters"] = ([(n, s) for n, s, _ in params] if reported is None
                             else [(str(n), tuple(int(d) for d in s)) for n, s in reported])
        reported = info["state_dict"]
        out["state_dict"] = list(state) if reported is None else [(str(k), tuple(int(d) for d in s), str(t))
                                                                  for k, s, t in reported]
        out["children"] = [(str(n), str(t)) for n, t in info["children"]]
    except (KeyError, TypeError, ValueError) as err:
        raise InconsistentDescription(_("the description of your module is malformed ({error_type})",
                                        error_type=type(err).__name__)) from None
    return out


def verify(info) -> None:
    """Raise InconsistentDescription unless a description's structural fields agree with its ``raw`` account.

    Runs in the trusted process on what the sandbox sent back (plain data).
    """
    if not isinstance(info, dict) or not any(key in info for key in STRUCTURAL_KEYS) and not info.get("is_module"):
        return
    raw = info.get("raw")
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), (list, tuple)) for k in ("params", "state",
                                                                                            "children")):
        raise InconsistentDescription(_("the description of your module is incomplete (was the grader's code "
                                        "changed?)"))
    try:
        params = [(str(n), tuple(int(d) for d in s), bool(g)) for n, s, g in raw["params"]]
        state = [(str(k), tuple(int(d) for d in s), str(t)) for k, s, t in raw["state"]]
        children = [(str(n), str(t)) for n, t in raw["children"]]
        reported = {
            "num_params": int(info["num_params"]), "num_trainable": int(info["num_trainable"]),
            "parameters": [(str(n), tuple(int(d) for d in s)) for n, s in info["parameters"]],
            "state_dict": [(str(k), tuple(int(d) for d in s), str(t)) for k, s, t in info["state_dict"]],
            "children": [(str(n), str(t)) for n, t in info["children"]],
        }
    except (KeyError, TypeError, ValueError) as err:
        raise InconsistentDescription(_("the description of your module is malformed ({error_type})",
                                        error_type=type(err).__name__)) from None
    registered = {
        "num_params": sum(math.prod(s) for _, s, _ in params),
        "num_trainable": sum(math.prod(s) for _, s, g in params if g),
        "parameters": [(n, s) for n, s, _ in params],
        "state_dict": state,
        "children": children,
    }
    words = {"num_params": N_("parameter count"), "num_trainable": N_("trainable parameter count"),
             "parameters": N_("list of parameters"), "state_dict": N_("state_dict layout"),
             "children": N_("list of children")}
    for key, value in registered.items():
        if reported[key] != value:
            shown = (_("{reported:,} reported, {registered:,} registered", reported=reported[key], registered=value)
                     if isinstance(value, int) else _("the two lists differ"))
            raise InconsistentDescription(_(
                "your module's {what} as reported by parameters() / named_parameters() / state_dict() does "
                "not match the parameters and buffers it actually registers ({shown}): these methods must not be "
                "overridden or patched", what=_(words[key]), shown=shown))


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
