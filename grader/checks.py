"""Helpers for hidden tests: measure and compare, with messages written for the student.

Every helper accepts a student object that lives in the sandbox
(``RemoteObject``) or an ordinary local object (the reference, or a student
module loaded in-process by the project's own tests), and measures both with
the same code (``grader.sandbox.describe``).
"""
from __future__ import annotations

import ast
from contextlib import nullcontext

import torch

from grader.remote import RemoteObject
from grader.sandbox.client import StudentRaised
from grader.sandbox.describe import count_calls, describe as describe_local


class ResultCache:
    """One per hidden-test module: values computed once per grading run (reference modules and outputs,
    reused for every student) and values computed once per submission (a student's model built on meta
    and shared by several tests), dropped when the next submission comes."""

    def __init__(self) -> None:
        self.run: dict = {}
        self.student = None
        self.submission: dict = {}

    def once(self, key, build):
        if key not in self.run:
            self.run[key] = build()
        return self.run[key]

    def per_submission(self, student, key, build):
        if self.student is not student:
            self.student, self.submission = student, {}
        if key not in self.submission:
            self.submission[key] = build()
        return self.submission[key]


class CheckFailed(AssertionError):
    """A failed check; its text is shown to the student as is."""


def fail(message: str, hint: str = "") -> None:
    raise CheckFailed(message + (f"\nLikely cause: {hint}" if hint else ""))


def fmt(value) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def is_remote(obj) -> bool:
    return isinstance(obj, (RemoteObject,))


def describe(obj) -> dict:
    if isinstance(obj, RemoteObject):
        return obj._session.request({"op": "describe", "target": obj})
    return describe_local(obj)


def param_count(module) -> int:
    return int(describe(module)["num_params"])


def state_dict_layout(module) -> list[tuple[str, tuple[int, ...], str]]:
    return [(key, tuple(shape), dtype) for key, shape, dtype in describe(module)["state_dict"]]


def type_names(obj) -> list[str]:
    return list(obj._mro) if isinstance(obj, RemoteObject) else [c.__name__ for c in type(obj).__mro__]


def call_on(device: str, fn, *args, **kwargs):
    """Call ``fn`` with ``torch.device(device)`` as the default device (e.g. build a model on ``meta``)."""
    if isinstance(fn, RemoteObject):
        return fn._session.request({"op": "call", "target": fn, "args": list(args), "kwargs": kwargs,
                                    "device": device})
    with torch.device(device):
        return fn(*args, **kwargs)


def functions_called(fn, args: tuple, names: set[str]):
    """Run ``fn(*args)`` and report which torch functions in ``names`` it called (value, names)."""
    if isinstance(fn, RemoteObject):
        reply = fn._session.request({"op": "call", "target": fn, "args": list(args), "kwargs": {},
                                     "trace": sorted(names)})
        return reply["result"], list(reply["called"])
    return count_calls(lambda: fn(*args), names)


def call_keeping_inputs(fn, *args):
    """Call ``fn(*args)`` and also return the arguments as they are after the call (to catch in-place edits)."""
    if isinstance(fn, RemoteObject):
        reply = fn._session.request({"op": "call", "target": fn, "args": list(args), "kwargs": {},
                                     "return_args": True})
        return reply["result"], list(reply["args"])
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    return fn(*copies), copies


def time_limit(obj, seconds: float):
    """A longer per-call limit for a slow but honest call; a no-op for local objects."""
    return obj._session.time_limit(seconds) if isinstance(obj, RemoteObject) else nullcontext()


def assert_equal(what: str, got, expected, hint: str = "") -> None:
    if type(got) is not type(expected) and not (isinstance(got, (int, float)) and isinstance(expected, (int, float))
                                                and not isinstance(got, bool)):
        fail(f"{what}: expected {fmt(expected)} ({type(expected).__name__}), got {fmt(got)} ({type(got).__name__}).",
             hint)
    if got != expected:
        fail(f"{what}: expected {fmt(expected)}, got {fmt(got)}.", hint)


def assert_param_count(what: str, module, expected: int, hint: str = "") -> None:
    got = param_count(module)
    if got != expected:
        diff = got - expected
        fail(f"{what}: parameter count {got:,} ≠ {expected:,} (difference {diff:+,}).", hint)


def assert_tensor(what: str, got, *, shape=None, dtype=None, device=None, hint: str = "") -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        fail(f"{what}: expected a tensor, got {type(got).__name__ if not isinstance(got, RemoteObject) else got!r}.",
             hint)
    if shape is not None and tuple(got.shape) != tuple(shape):
        fail(f"{what}: expected shape {tuple(shape)}, got {tuple(got.shape)}.", hint)
    if dtype is not None and got.dtype != dtype:
        fail(f"{what}: expected dtype {dtype}, got {got.dtype}.", hint or "keep the input's dtype")
    if device is not None and got.device.type != torch.device(device).type:
        fail(f"{what}: expected a tensor on {torch.device(device).type}, got one on {got.device.type}.",
             hint or "create new tensors on the input's device (e.g. torch.zeros_like(x) or device=x.device)")
    return got


def assert_same_output(got, expected: torch.Tensor, what: str, hint: str = "", atol: float = 1e-5,
                       rtol: float = 1e-4) -> None:
    assert_tensor(what, got, shape=expected.shape, dtype=expected.dtype, device=expected.device.type, hint=hint)
    if expected.device.type == "meta":
        return
    got64, exp64 = got.detach().double().cpu(), expected.detach().double().cpu()
    if not torch.allclose(got64, exp64, atol=atol, rtol=rtol, equal_nan=True):
        diff = (got64 - exp64).abs()
        where = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0]) if diff.numel() else ()
        fail(f"{what}: values differ from the reference by up to {diff.max().item():.3g} at index {where} "
             f"(allowed {atol:g} + {rtol:g}·|reference|).", hint)


def expect_student_error(call, expected: str, what: str, hint: str = "") -> StudentRaised:
    """``call()`` must make the student's code raise ``expected`` (by class name, subclasses accepted)."""
    try:
        call()
    except StudentRaised as err:
        if err.is_a(expected):
            return err
        fail(f"{what}: expected {expected}, but your code raised {err.type_name}: {err.message}", hint)
    except Exception as err:  # a local object raising its own Python exception
        if expected in [c.__name__ for c in type(err).__mro__]:
            return StudentRaised(type(err).__name__, [c.__name__ for c in type(err).__mro__], str(err))
        raise
    fail(f"{what}: expected {expected} to be raised, but nothing was raised.", hint)


def assert_same_layout(what: str, mine: list, expected: list, hint_for, order_hint: str) -> None:
    """Compare state_dict layouts [(key, shape, dtype)]: keys, then shapes, then order.

    ``hint_for(missing, extra, wrong_shapes)`` turns a difference into its likely cause in the
    lecture's terms (each assignment knows its own typical mistakes); ``order_hint`` says which order
    torchvision registers the submodules in.
    """
    exp = {k: s for k, s, _ in expected}
    got = {k: s for k, s, _ in mine}
    missing = [k for k in exp if k not in got]
    extra = [k for k in got if k not in exp]
    if missing or extra:
        fail(f"{what}: the state_dict keys differ from torchvision's ({len(expected)} entries expected, "
             f"{len(mine)} came). Missing: {missing[:5]}{' …' if len(missing) > 5 else ''}; "
             f"unexpected: {extra[:5]}{' …' if len(extra) > 5 else ''}.", hint_for(missing, extra, []))
    wrong = [(k, exp[k], got[k]) for k in exp if tuple(exp[k]) != tuple(got[k])]
    if wrong:
        listed = "; ".join(f"{k}: expected {tuple(e)}, got {tuple(g)}" for k, e, g in wrong[:4])
        fail(f"{what}: {len(wrong)} state_dict entr{'y has' if len(wrong) == 1 else 'ies have'} the wrong shape "
             f"({listed}{' …' if len(wrong) > 4 else ''}).", hint_for([], [], wrong))
    if [k for k, _, _ in mine] != [k for k, _, _ in expected]:
        first = next(i for i, (a, b) in enumerate(zip(mine, expected)) if a[0] != b[0])
        fail(f"{what}: the state_dict has the right keys but in a different order (entry {first} is "
             f"{mine[first][0]!r}, torchvision has {expected[first][0]!r} there).", order_hint)


def randomise_batchnorm(module, seed: int):
    """Random BN affine parameters and running statistics (local modules), so eval-mode BN is not (almost) the
    identity and a missing or misplaced BatchNorm shows in the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return module


def load_weights(mine, ref) -> str:
    """Load the reference's weights into the student's module: by name, else by shape in order.

    Returns "by name" or "by shape" so a test can say which alignment it used.
    """
    ref_sd = ref.state_dict()
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
        fail("your module's parameters and buffers do not line up with the reference's, by name or by shape "
             f"(reference has {len(ref_items)} entries, yours {len(mine_shapes)}; "
             f"names only in the reference: {missing}; only in yours: {extra}).",
             "compare your layers, their order and bias/BatchNorm settings with the description above the exercise")
    mine.load_state_dict({key: tensor for (key, _), (_, tensor) in zip(mine_shapes, ref_items)})
    return "by shape"


def calls_in_source(source: str, forbidden: set[str]) -> list[str]:
    """Names from ``forbidden`` that the source calls or references (``F.relu``, ``torch.relu``, ``nn.ReLU``...)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in forbidden:
            found.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in forbidden:
            found.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in forbidden:
            found.add(node.value)
    return sorted(found)
