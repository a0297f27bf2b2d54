"""Hidden checks for the AlexNet assignment: relu, relu_grad, ReLU, chain_grad, AlexNet.

Expected values are computed here, in the trusted process: torch's own relu and autograd for the
activation exercises, the reference solution (torchvision's layout) for AlexNet.
"""
import ast
import math

import pytest
import torch

from grader.checks import (
    REFERENCE, TORCHVISION, CheckFailed, ResultCache, assert_equal, assert_param_count, assert_same_output,
    assert_tensor, assert_total, call, layout_differences, call_keeping_inputs, call_on, calls_in_source,
    describe, exercise_source, expect_student_error, explained, fail, functions_called, generator,
    load_weights, param_count, reference_layout, state_dict_layout, tolerance, torchvision_model, type_names)
from grader.checks.composite import carried_forward, note
from grader.i18n import N_, messages

_, _n = messages("alexnet")
_cache = ResultCache()
_cached, _student_cached = _cache.once, _cache.per_submission
BUILTIN_RELU_STATIC = {"relu", "relu_", "ReLU", "threshold", "threshold_"}
BUILTIN_RELU_TRACED = {"relu", "relu_", "threshold", "threshold_", "_threshold"}  # F.threshold: "_threshold"


# ---------------------------------------------------------------- helpers
def _relu_truth(x):
    return torch.where(x > 0, x, torch.zeros_like(x))


def _first_difference(got, expected):
    diff = got.double() != expected.double()
    return tuple(int(i) for i in torch.nonzero(diff)[0])


def _weights_loaded(how):
    """``how`` as ``load_weights`` says it ("by name" / "by shape"), as a phrase of the run's language."""
    return {"by name": _("weights loaded by name"), "by shape": _("weights loaded by shape")}.get(
        how, _("weights loaded {how}", how=how))


def _assert_relu_output(what, got, x):
    expected = _relu_truth(x)
    assert_tensor(what, got, shape=x.shape,
                  hint=_("return a tensor of the input's shape (elementwise, no reduction)"))
    assert_tensor(what, got, dtype=x.dtype,
                  hint=_("keep the input's dtype: compare with a Python 0 or use torch.zeros_like(x) — a "
                         "float 0.0 or .float() turns an integer (or float64/float16) tensor into another "
                         "dtype"))
    assert_tensor(what, got, device=x.device.type)
    if x.device.type == "meta" or x.numel() == 0:
        return
    got_cpu, exp_cpu, x_cpu = got.cpu(), expected.cpu(), x.cpu()
    if not torch.equal(got_cpu, exp_cpu):
        where = _first_difference(got_cpu, exp_cpu)
        value = x_cpu[where].item()
        hint = (_("negative inputs must become 0") if value < 0 else
                _("positive inputs must pass through unchanged (the identity for x > 0)") if value > 0 else
                _("relu(0) is 0"))
        fail(_("{what}: at index {index} the input is {value:g}, expected {expected:g}, got {got:g}.",
               what=what, index=where, value=value, expected=exp_cpu[where].item(),
               got=got_cpu[where].item()),
             hint)


# ---------------------------------------------------------------- 1. relu
def _relu_float_inputs():
    g = generator(11)
    big = torch.randn(2, 3, 4, 5, generator=g)
    big.view(-1)[::7] = 0.0                         # exact zeros: the kink
    big.view(-1)[3::11] = -0.0
    return [
        ("relu([-2, -0.5, 0, 0.5, 2, -0.0, 1e-30])", torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0, -0.0, 1e-30])),
        (_("relu(x) for x of shape (2, 3, 4, 5)"), big),
        (_("relu(x) for x of shape (1, 1, 7, 7)"), torch.randn(1, 1, 7, 7, generator=g)),
        (_("relu(tensor(-3.0)) (a 0-dim tensor)"), torch.tensor(-3.0)),
        (_("relu(tensor(2.5)) (a 0-dim tensor)"), torch.tensor(2.5)),
        (_("relu(x) for a large-magnitude x"), torch.tensor([-1e30, 1e30, -7.5e-3, 3.0e4])),
    ]


@pytest.mark.points(2)
@pytest.mark.exercise("relu")
def test_relu_values(student):
    """relu(x) = max(0, x) elementwise, for vectors, 4-d batches and 0-dim tensors"""
    for what, x in _relu_float_inputs():
        got = call(what, student.relu, x, hint=_("relu must work on a tensor of any shape"))
        _assert_relu_output(what, got, x)


@pytest.mark.points(2)
@pytest.mark.exercise("relu")
def test_relu_keeps_dtype_and_device(student, device):
    """relu keeps the input's dtype (float64, float16, int64) and device (meta too), handles empty tensors"""
    g = generator(12)
    cases = [
        (_("relu(float64 tensor)"), torch.randn(3, 5, generator=g, dtype=torch.float64)),
        (_("relu(float16 tensor)"), torch.randn(4, 6, generator=g).half()),
        (_("relu(int64 tensor [-3, 0, 4, -1, 7])"), torch.tensor([-3, 0, 4, -1, 7])),
        (_("relu(empty tensor of shape (0, 3))"), torch.empty(0, 3)),
        (_("relu(empty float64 tensor of shape (2, 0, 4))"), torch.empty(2, 0, 4, dtype=torch.float64)),
        (_("relu(float32 tensor of shape (2, 8, 3, 3))"), torch.randn(2, 8, 3, 3, generator=g)),
    ]
    if device != "cpu":
        cases = [(_("{what} on {device}", what=what, device=device), x.to(device)) for what, x in cases]
    cases.append((_("relu(meta tensor of shape (2, 16, 9, 9))"), torch.empty(2, 16, 9, 9, device="meta")))
    device_hint = _("do not create tensors on a fixed device (torch.zeros(x.shape) is on the CPU); use x's "
                    "own device: a Python 0, torch.zeros_like(x), clamp or where")
    any_dtype_hint = _("relu must work for every dtype and for empty tensors (no reductions like x.max())")
    for what, x in cases:
        got = call(what, student.relu, x, hint=device_hint if x.device.type != "cpu" else any_dtype_hint)
        _assert_relu_output(what, got, x)


@pytest.mark.points(1)
@pytest.mark.exercise("relu")
def test_relu_leaves_input_unchanged(student):
    """relu returns a new tensor and leaves its input unchanged"""
    x = torch.tensor([[-2.0, -0.5, 0.0], [0.5, 2.0, -3.0]])
    cases = [(_("relu(x) with float32 x"), x), (_("relu(x) with int64 x"), torch.tensor([-4, 0, 5, -1]))]
    for what, inp in cases:
        _unused, (after,) = call(what, call_keeping_inputs, student.relu, inp.clone())
        if not torch.equal(after, inp):
            fail(_("{what} changed its input: before {before}, after {after}.",
                   what=what, before=inp.tolist(), after=after.tolist()),
                 _("relu modified x in place (x[x < 0] = 0, x.clamp_(...), x.relu_()); return a new tensor "
                   "and leave x as it was — a layer's input is also needed by the backward pass"))


def _static_builtin_uses(source):
    """Names of torch's built-in relu that the relu cell uses. A bare name ``relu`` is the student's own
    (its definition, a call to it in a quick test, ``relu = ...``), so ``relu`` counts only as an attribute
    (torch.relu, F.relu, x.relu()), a string (getattr(F, "relu")) or an imported name."""
    found = set(calls_in_source(source, BUILTIN_RELU_STATIC))
    try:
        tree = ast.parse(source)
    except SyntaxError:   # the cell did not run at all; the other tests say so
        return []
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names if alias.name in BUILTIN_RELU_STATIC}
    if "relu" in found and not any(
            isinstance(node, ast.Attribute) and node.attr == "relu"
            or isinstance(node, ast.Constant) and node.value == "relu" for node in ast.walk(tree)):
        found.discard("relu")
    return sorted(found | imported)


@pytest.mark.points(2)
@pytest.mark.exercise("relu")
def test_relu_without_builtin(student, submission):
    """relu is built from comparisons, where, clamp or maximum, not the built-in relu (code and run time)"""
    found = _static_builtin_uses(exercise_source(submission, "relu", _(
        "do not delete or copy the exercise cells; write your code in the cell that defines relu")))
    if found:
        fail(_("your relu cell uses torch's built-in relu: {names}.", names=", ".join(found)),
             _("the exercise is to build ReLU yourself: torch.where(x > 0, x, 0), x.clamp(min=0) or "
               "torch.maximum(x, torch.zeros_like(x)); not torch.relu, F.relu, nn.ReLU, Tensor.relu or "
               "threshold"))
    x = torch.tensor([[-1.5, 0.0, 2.0], [3.0, -0.25, 0.5]])
    value, called = call("relu(x)", functions_called, student.relu, (x,), BUILTIN_RELU_TRACED)
    if called:
        fail(_("while running, your relu called torch's built-in {names}.", names=", ".join(called)),
             _("the exercise is to build ReLU yourself from a comparison, where, clamp or maximum; the "
               "built-in relu is not allowed even when it is reached indirectly (getattr, an nn.ReLU module, "
               "a helper)"))
    _assert_relu_output("relu(x)", value, x)


# ---------------------------------------------------------------- 2. relu_grad
def _autograd_relu_slope(x):
    leaf = x.detach().clone().requires_grad_(True)
    torch.relu(leaf).sum().backward()
    return leaf.grad


def _assert_slope_values(what, got, x, expected):
    assert_tensor(what, got, shape=x.shape, hint=_("return one slope per element, in x's shape"))
    got64, exp64 = got.detach().cpu().double(), expected.cpu().double()
    if not torch.equal(got64, exp64):
        where = _first_difference(got64, exp64)
        value = x.cpu()[where].item()
        hint = (_("the derivative at exactly 0 is taken to be 0, as autograd does: use x > 0, not x >= 0")
                if value == 0
                else _("ReLU's slope is 1 for x > 0") if value > 0 else _("ReLU's slope is 0 for x < 0"))
        fail(_("{what}: at index {index} the input is {value:g}, autograd gives the slope {expected:g}, your "
               "relu_grad gives {got:g}.",
               what=what, index=where, value=value, expected=exp64[where].item(), got=got64[where].item()),
             hint)


@pytest.mark.points(2)
@pytest.mark.exercise("relu_grad")
def test_relu_grad_matches_autograd(student):
    """relu_grad(x) equals autograd's derivative of ReLU: 1 for x > 0, 0 for x <= 0 (0 at x == 0)"""
    g = generator(21)
    x64 = torch.randn(4, 7, generator=g, dtype=torch.float64)
    x64.view(-1)[::5] = 0.0
    cases = [
        ("relu_grad([-2, -0.5, 0, 0.5, 2])", torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])),
        (_("relu_grad(x) for float64 x of shape (4, 7) with zeros"), x64),
        (_("relu_grad(x) for x of shape (2, 3, 5, 5)"), torch.randn(2, 3, 5, 5, generator=g)),
        ("relu_grad(tensor(0.0))", torch.tensor(0.0)),
        ("relu_grad(tensor(1e-20))", torch.tensor(1e-20)),
    ]
    for what, x in cases:
        got = call(what, student.relu_grad, x)
        _assert_slope_values(what, got, x, _autograd_relu_slope(x))


@pytest.mark.points(1)
@pytest.mark.exercise("relu_grad")
def test_relu_grad_keeps_dtype_and_device(student, device):
    """relu_grad returns x's dtype (not bool) and device (incl. meta), for float16/32/64 and empty tensors"""
    g = generator(22)
    dtype_hint = _("return x's dtype: a comparison gives a bool tensor, convert it with (x > 0).to(x.dtype)")
    cases = [(_("relu_grad({dtype} tensor)", dtype=dtype), torch.randn(3, 4, generator=g).to(dtype))
             for dtype in (torch.float32, torch.float64, torch.float16)]
    cases.append((_("relu_grad(empty tensor of shape (0, 5))"), torch.empty(0, 5, dtype=torch.float64)))
    if device != "cpu":
        cases = [(_("{what} on {device}", what=what, device=device), x.to(device)) for what, x in cases]
    cases.append((_("relu_grad(meta tensor of shape (2, 3))"), torch.empty(2, 3, device="meta")))
    for what, x in cases:
        got = call(what, student.relu_grad, x,
                   hint=_("create the result on x's device, e.g. (x > 0).to(x.dtype) or torch.ones_like(x)"))
        assert_tensor(what, got, shape=x.shape, dtype=x.dtype, hint=dtype_hint)
        assert_tensor(what, got, device=x.device.type)
        if x.device.type != "meta":
            _assert_slope_values(what, got, x, (x > 0).to(x.dtype))


# ---------------------------------------------------------------- 3. ReLU module
@pytest.mark.points(2)
@pytest.mark.exercise("relu_module")
def test_relu_module(student):
    """ReLU is an nn.Module without parameters that computes your relu (no built-in relu, input unchanged)"""
    act = call("ReLU()", student.ReLU, hint=_("ReLU() takes no arguments"))
    if "Module" not in type_names(act):
        fail(_("ReLU() is a {type_name}, not an nn.Module.", type_name=type_names(act)[0]),
             _("write class ReLU(nn.Module) with a forward method"))
    assert_equal(_("number of parameters of ReLU()"), param_count(act), 0,
                 hint=_("an activation has nothing to learn: do not create nn.Parameter or layers with "
                        "weights in it"))
    g = generator(31)
    x = torch.randn(3, 8, generator=g)
    x[0, :3] = 0.0
    got, (after,) = call("ReLU()(x)", call_keeping_inputs, act, x.clone())
    own_after = call("relu(x)", call_keeping_inputs, student.relu, x.clone())[1][0]
    if not torch.equal(after, x) and torch.equal(own_after, after):
        note(carried_forward("ReLU", ["relu"], _("input handling")))
    elif not torch.equal(after, x):
        fail(_("ReLU()(x) changed its input x."),
             _("forward must return a new tensor (call relu(x), which must not modify x in place)"))
    _relu_given_part(student, "ReLU()(x)", got, x)
    x64 = torch.randn(2, 4, 3, 3, generator=g, dtype=torch.float64)
    _relu_given_part(student, _("ReLU()(float64 x of shape (2, 4, 3, 3))"), call("ReLU()(x)", act, x64),
                     x64)
    _unused, called = call("ReLU()(x)", functions_called, act, (x,), BUILTIN_RELU_TRACED)
    if called:
        _unused, called_by_relu = functions_called(student.relu, (x,), BUILTIN_RELU_TRACED)
        if not called_by_relu:  # if relu itself uses the built-in, test_relu_without_builtin already says so
            fail(_("ReLU()'s forward calls torch's built-in {names} instead of your relu.",
                   names=", ".join(called)),
                 _("forward should return relu(x) — the function you wrote above — not F.relu / nn.ReLU; "
                   "do not subclass nn.ReLU"))


def _relu_given_part(student, what: str, got, x) -> None:
    """ReLU's output is relu(x), or what the student's own relu gives (charged in relu's tests)."""
    try:
        _assert_relu_output(what, got, x)
    except CheckFailed:
        with explained(_("your relu on ReLU()'s input ({what})", what=what),
                       _("fix relu first (its tests say how)")):
            own = student.relu(x.clone())
        if isinstance(got, torch.Tensor) and isinstance(own, torch.Tensor) and \
                got.dtype == own.dtype and torch.equal(got.cpu(), own.cpu()):
            return note(carried_forward("ReLU", ["relu"]))
        raise


# ---------------------------------------------------------------- 4. chain_grad
_TORCH_ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


def _autograd_chain(activation, depth, x0):
    """d/dx0 of f∘…∘f (depth times) by autograd in float64, computed here (cached)."""
    def build():
        x = y = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
        for _layer in range(depth):
            y = _TORCH_ACTIVATIONS[activation](y)
        return 1.0 if depth == 0 else torch.autograd.grad(y, x)[0].item()
    return _cached(("chain", activation, depth, x0), build)


def _as_number(what, value):
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    fail(_("{what}: expected a float, got {value!r}.", what=what, value=value),
         _("return the derivative as a Python float"))


def _check_chain(student, activation, cases, hint):
    for depth, x0 in cases:
        what = f"chain_grad({activation!r}, {depth}, {x0})"
        got = _as_number(what, call(what, student.chain_grad, activation, depth, x0))
        expected = _autograd_chain(activation, depth, x0)
        if not abs(got - expected) <= 1e-7 * abs(expected) + 1e-300:
            fail(_n("{what}: autograd through {n} stacked {activation} layer gives {expected:.10g}, your "
                    "chain_grad gives {got:.10g}.",
                    "{what}: autograd through {n} stacked {activation} layers gives {expected:.10g}, your "
                    "chain_grad gives {got:.10g}.",
                    depth, what=what, activation=activation, expected=expected, got=got), hint)


@pytest.mark.points(2)
@pytest.mark.exercise("chain_grad")
def test_chain_grad_sigmoid(student):
    """chain_grad('sigmoid', depth, x0) matches autograd, ≤ 0.25**depth at x0 = 0 (vanishing gradient)"""
    _check_chain(student, "sigmoid", [(1, 0.0), (2, 0.0), (3, -2.5), (5, 1.3), (7, 4.0), (12, -0.8),
                                      (15, 0.0)],
                 hint=_("by the chain rule multiply σ'(x_i) = σ(x_i)(1 − σ(x_i)) — the slope, not σ(x_i) — "
                        "at each layer's own input: x_0, then x_1 = σ(x_0), ..."))
    for depth in (1, 2, 3, 6, 10):
        what = f"chain_grad('sigmoid', {depth}, 0.0)"
        got = _as_number(what, call(what, student.chain_grad, "sigmoid", depth, 0.0))
        if not 0 < got <= 0.25 ** depth * (1 + 1e-12):
            fail(_("{what} = {got:.6g}, but it must lie in (0, 0.25**{depth}] = (0, {bound:.6g}].",
                   what=what, got=got, depth=depth, bound=0.25 ** depth),
                 _("every sigmoid slope is at most 1/4, so the product of depth slopes is at most "
                   "0.25**depth"))


@pytest.mark.points(2)
@pytest.mark.exercise("chain_grad")
def test_chain_grad_tanh(student):
    """chain_grad('tanh', depth, x0) matches autograd through a stack of tanh layers"""
    _check_chain(student, "tanh", [(1, 0.0), (1, 0.7), (2, 0.5), (3, -1.2), (5, 3.0), (12, 0.3), (25, -2.0),
                                   (8, 0.0)],
                 hint=_("multiply tanh'(x_i) = 1 − tanh(x_i)**2 at each layer's own input (x_{i+1} = "
                        "tanh(x_i)), not the slope at x0 every time and not tanh(x_i) itself"))


@pytest.mark.points(2)
@pytest.mark.exercise("chain_grad")
def test_chain_grad_relu(student):
    """chain_grad('relu', depth, x0) is exactly 1 for x0 > 0, 0 for x0 <= 0 (slope 0 at 0, as in relu_grad)"""
    _check_chain(student, "relu", [(1, 1.5), (20, 1.5), (3, 0.002), (1, -0.7), (20, -1.5), (1, 0.0), (3, 0.0),
                                   (50, 7.25)],
                 hint=_("ReLU's slope is 1 for x > 0 and 0 for x <= 0 (0 at exactly 0, as in relu_grad); "
                        "multiply slopes, not activation values"))


@pytest.mark.points(1)
@pytest.mark.exercise("chain_grad")
def test_chain_grad_float_identity_and_errors(student):
    """chain_grad returns a float, depth 0 gives 1.0, and an unknown activation raises ValueError"""
    for args in [("tanh", 3, 1.0), ("sigmoid", 2, -1.0), ("relu", 4, 2.0)]:
        shown = f"chain_grad{args}"
        got = call(shown, student.chain_grad, *args)
        if type(got) is not float:
            fail(_("{call} returned a {type_name} ({value!r}), expected a Python float.",
                   call=shown, type_name=type(got).__name__, value=got),
                 _("return a plain float, e.g. float(grad) or grad.item() if you computed it with tensors"))
    for activation in ("relu", "sigmoid", "tanh"):
        what = f"chain_grad({activation!r}, 0, 0.8)"
        got = _as_number(what, call(what, student.chain_grad, activation, 0, 0.8))
        if got != 1.0:
            fail(_("{what}: expected 1.0 (zero layers is the identity), got {got:g}.", what=what, got=got),
                 _("with depth 0 no slope is multiplied: start the product at 1.0"))
    for bad in ("gelu", "softmax", ""):
        expect_student_error(lambda bad=bad: student.chain_grad(bad, 3, 1.0), "ValueError",
                             f"chain_grad({bad!r}, 3, 1.0)",
                             hint=_("only 'relu', 'sigmoid' and 'tanh' are allowed: raise ValueError for "
                                    "anything else"))


# ---------------------------------------------------------------- 5. AlexNet
ALEXNET_PARAMS = 61_100_840
FEATURES_PARAMS = 2_469_696
CLASSIFIER_PARAMS = 58_631_144
WIDTHS_HINT = N_("torchvision's AlexNet is the single-tower 2014 variant with 64-192-384-256-256 channels "
                 "(kernels 11/5/3/3/3, biases included), not the 2012 two-GPU network with "
                 "96-256-384-384-256")
KNOWN_WRONG_TOTALS = {   # {widths_hint}: WIDTHS_HINT
    62_378_344: N_("this is the 2012 paper's widths 96-256-384-384-256 in one tower; {widths_hint}"),
    60_965_224: N_("this is the 2012 two-GPU network (groups=2, 96-256-384-384-256); {widths_hint}"),
    61_090_496: N_("exactly the 10,344 biases are missing: torchvision's convs and Linear layers all have "
                   "bias=True"),
    61_099_688: N_("exactly the 1,152 conv biases are missing: torchvision's convs have bias=True"),
}


def _build_on_meta(student, what, *args, **kwargs):
    return call(what, call_on, "meta", student.AlexNet, *args, **kwargs, hint=_(
        "AlexNet must build under torch.device('meta') (no .to('cpu') or CPU tensors created in __init__)"))


def _student_children(module):
    return list(module)


def _require_layout(what, mine, expected, against=REFERENCE):
    layout = state_dict_layout(mine)
    if layout == expected:
        return
    missing, extra, wrong = layout_differences(layout, expected)
    parts = ([_("missing keys {keys}", keys=missing[:6])] if missing else []) + (
        [_("unexpected keys {keys}", keys=extra[:6])] if extra else [])
    if wrong:
        shapes = "; ".join(_("{key}: {got} instead of {expected}", key=k, got=g, expected=e)
                           for k, e, g in wrong[:6])
        parts.append(_("wrong shapes {shapes}", shapes=shapes))
    if not parts and [k for k, _s, _d in layout] != [k for k, _s, _d in expected]:
        parts.append(_("same keys in another order"))
    if not parts:
        dtypes = dict((k, t) for k, _s, t in layout)
        other = [f"{k}: {dtypes[k]}" for k, _s, t in expected if dtypes[k] != t]
        parts.append(_("other dtypes {dtypes}", dtypes=", ".join(other[:6])))
    differences = "; ".join(parts)
    fail(_("{what}: the state_dict does not match torchvision's layout ({differences}).", what=what,
           differences=differences) if against == TORCHVISION else
         _("{what}: the state_dict does not match the reference's layout ({differences}).", what=what,
           differences=differences), _layout_hint(layout, expected))


def _layout_hint(layout, expected_layout):
    """The likely cause of a layout difference, in the lecture's terms."""
    mine = {k: s for k, s, _d in layout}
    expected = {k: s for k, s, _d in expected_layout}
    conv_keys = [k for k in expected if ".weight" in k and len(expected[k]) == 4]
    if any(k in mine and mine[k] != expected[k] for k in conv_keys):
        return _(WIDTHS_HINT)
    if set(mine) != set(expected) or list(mine) != list(expected):
        return _(LAYOUT_HINT)
    last = [k for k in expected if k.endswith(".weight")][-1]
    if mine[last] != expected[last] and all(mine[k] == expected[k] for k in expected
                                            if not k.startswith(last[:-6])):
        return _("only the last Linear differs: it is nn.Linear(4096, num_classes) — use the constructor's "
                 "argument")
    return _("compare the Linear sizes with the classifier table: 256·6·6 = 9216 → 4096 → 4096 → num_classes")


LAYOUT_HINT = N_("use the attribute names features / avgpool / classifier and exactly the layer order of the "
                 "two tables (Dropout at classifier 0 and 3, a ReLU after every conv and hidden Linear, "
                 "max-pools after conv 1, 2 and 5), so that the nn.Sequential indices give features.0, 3, 6, "
                 "8, 10 and classifier.1, 4, 6 as in torchvision")


@pytest.mark.points(3)
@pytest.mark.exercise("alexnet")
@pytest.mark.confirmed_by("test_alexnet_forward_matches_reference")
def test_alexnet_param_count(student):
    """AlexNet() has exactly 61,100,840 parameters (features 2,469,696, classifier 58,631,144), on meta"""
    mine = _build_on_meta(student, _("AlexNet() on the meta device"))
    info = describe(mine)
    widths_hint = _(WIDTHS_HINT)
    known_wrong = {total: _(cause, widths_hint=widths_hint) for total, cause in KNOWN_WRONG_TOTALS.items()}
    assert_total("AlexNet()", int(info["num_params"]), ALEXNET_PARAMS, known_wrong,
                 _("compare every layer with the two tables (channels 64-192-384-256-256, Linear "
                   "9216→4096→4096→num_classes, biases included)"))
    if info.get("devices") not in (["meta"], []):
        fail(_("AlexNet() built under torch.device('meta') has tensors on {devices}.",
               devices=info["devices"]),
             _("do not move layers or create tensors on a fixed device in __init__"))
    features = call("AlexNet().features", getattr, mine, "features",
                    hint=_("name the convolutional part self.features"))
    assert_param_count("AlexNet().features", features, FEATURES_PARAMS, hint=_(WIDTHS_HINT))
    classifier = call("AlexNet().classifier", getattr, mine, "classifier",
                      hint=_("name the fully connected part self.classifier"))
    assert_param_count("AlexNet().classifier", classifier, CLASSIFIER_PARAMS,
                       hint=_("Linear(256*6*6, 4096), Linear(4096, 4096), Linear(4096, num_classes), with "
                              "biases"))


@pytest.mark.points(2)
@pytest.mark.exercise("alexnet")
@pytest.mark.confirmed_by("test_alexnet_forward_matches_reference")
def test_alexnet_state_dict_layout(student, reference):
    """AlexNet's state_dict keys and shapes are exactly torchvision's (features.0 … classifier.6)"""
    mine = _build_on_meta(student, _("AlexNet() on the meta device"))
    _require_layout("AlexNet()", mine, _cached("layout", lambda: reference_layout(reference.AlexNet)))
    if torchvision_model("alexnet"):
        _require_layout(_("AlexNet() compared with torchvision's alexnet()"), mine,
                        torchvision_model("alexnet")[1], TORCHVISION)


@pytest.mark.points(2)
@pytest.mark.exercise("alexnet")
@pytest.mark.confirmed_by("test_alexnet_forward_matches_reference")
def test_alexnet_layers_and_arguments(student):
    """AlexNet's layers (ReLU, max-pool, adaptive 6x6 pool, Dropout) follow num_classes and dropout"""
    mine = _build_on_meta(student, _("AlexNet(num_classes=37, dropout=0.2) on the meta device"),
                          num_classes=37, dropout=0.2)
    features = [type_names(m)[0] for m in call("AlexNet().features", _student_children, mine.features)]
    expected_features = ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU",
                         "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    if features != expected_features:
        fail(_("AlexNet().features layer types: expected {expected}, got {got}.",
               expected=expected_features, got=features),
             _("features is one flat nn.Sequential: each conv followed by its ReLU, max-pools after conv 1, "
               "2 and 5"))
    classifier_modules = call("AlexNet().classifier", _student_children, mine.classifier)
    classifier = [type_names(m)[0] for m in classifier_modules]
    expected_classifier = ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Linear"]
    if classifier != expected_classifier:
        fail(_("AlexNet().classifier layer types: expected {expected}, got {got}.",
               expected=expected_classifier, got=classifier),
             _("Dropout before each of the two hidden Linear layers, ReLU after them, no ReLU or softmax "
               "after the last Linear"))
    avgpool = call("AlexNet().avgpool", getattr, mine, "avgpool",
                   hint=_("name the pooling layer self.avgpool"))
    kind = type_names(avgpool)[0]
    if kind != "AdaptiveAvgPool2d" or _as_pair(avgpool.output_size) != (6, 6):
        fail(_("AlexNet().avgpool: expected AdaptiveAvgPool2d((6, 6)), got {kind} with output_size "
               "{output_size}.", kind=kind, output_size=avgpool.output_size) if kind == "AdaptiveAvgPool2d"
             else _("AlexNet().avgpool: expected AdaptiveAvgPool2d((6, 6)), got {kind}.", kind=kind),
             _("self.avgpool = nn.AdaptiveAvgPool2d((6, 6)) makes the classifier input 256x6x6 for any input "
               "size"))
    probabilities = [classifier_modules[0].p, classifier_modules[3].p]
    if probabilities != [0.2, 0.2]:
        fail(_("dropout probabilities of AlexNet(dropout=0.2): expected [0.2, 0.2], got {got}.",
               got=probabilities),
             _("pass the constructor's dropout argument to both nn.Dropout(p=dropout) layers instead of a "
               "fixed 0.5"))
    last = classifier_modules[-1].out_features
    if last != 37:
        fail(_("AlexNet(num_classes=37): the last Linear has {outputs} outputs, expected 37.",
               outputs=last),
             _("the last layer is nn.Linear(4096, num_classes): use the constructor's argument"))
    more = param_count(mine) - param_count(_build_on_meta(student, "AlexNet(num_classes=10)", num_classes=10))
    if more != 27 * 4097:
        fail(_("AlexNet(num_classes=37) has {more:+,} parameters more than AlexNet(num_classes=10), expected "
               "27 · (4096 + 1) = {expected:,}.", more=more, expected=27 * 4097),
             _("only the last Linear (4096 → num_classes, with bias) depends on num_classes"))
    default = _student_children(_build_on_meta(student, "AlexNet()").classifier)
    probabilities = [default[0].p, default[3].p]
    if probabilities != [0.5, 0.5]:
        fail(_("dropout probabilities of AlexNet(): expected [0.5, 0.5], got {got}.", got=probabilities),
             _("the default is dropout=0.5, as in torchvision"))


def _as_pair(value):
    return (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (list, tuple)) \
        else value


@pytest.mark.points(2)
@pytest.mark.exercise("alexnet")
def test_alexnet_output_shapes_on_meta(student):
    """AlexNet gives (N, num_classes) on the meta device for 224x224 and other input sizes (adaptive pool)"""
    mine = _build_on_meta(student, _("AlexNet() on the meta device"))
    x = torch.empty(2, 3, 224, 224, device="meta")
    f = call(_("AlexNet().features(2x3x224x224 meta input)"), mine.features, x)
    assert_tensor("AlexNet().features(2x3x224x224)", f, shape=(2, 256, 6, 6),
                  hint=_("check kernel sizes, strides and paddings: 224 → 55 → 27 → 27 → 13 → 13 → 6"))
    y = call(_("AlexNet()(2x3x224x224 meta input)"), mine, x)
    assert_tensor("AlexNet()(2x3x224x224)", y, shape=(2, 1000), device="meta")
    small = _build_on_meta(student, _("AlexNet(num_classes=10) on the meta device"), num_classes=10)
    pool_hint = _("the adaptive average pool (nn.AdaptiveAvgPool2d((6, 6)) between features and classifier, "
                  "then torch.flatten(x, 1)) makes the classifier input 256·6·6 = 9216 for any input of at "
                  "least 63x63")
    for shape in [(1, 3, 64, 64), (3, 3, 100, 100), (1, 3, 300, 260)]:
        what = _("AlexNet(num_classes=10) on a {shape} meta input", shape="x".join(map(str, shape)))
        y = call(what, small, torch.empty(*shape, device="meta"), hint=pool_hint)
        wrong_classes = (isinstance(y, torch.Tensor) and y.dim() == 2 and y.shape[0] == shape[0]
                         and y.shape[1] != 10)
        assert_tensor(what, y, shape=(shape[0], 10), device="meta",
                      hint=_("the last layer is nn.Linear(4096, num_classes): use the constructor's argument")
                      if wrong_classes else pool_hint)




# Weights for the forward comparisons, made here from a seeded generator.
# The classifier's two big matrices are Hankel matrices W[i, j] = s[i + j] (full rank, 13k distinct numbers),
# sent as strided views of a small storage: the student's model receives 218 MB of weights in a 60 kB message.
def _forward_state_dict():
    def build():
        g, sd = generator(0), {}
        conv_shapes = [(64, 3, 11, 11), (192, 64, 5, 5), (384, 192, 3, 3), (256, 384, 3, 3), (256, 256, 3, 3)]
        for index, shape in zip((0, 3, 6, 8, 10), conv_shapes):
            fan_in = shape[1] * shape[2] * shape[3]
            sd[f"features.{index}.weight"] = torch.randn(*shape, generator=g) * math.sqrt(2.0 / fan_in)
            sd[f"features.{index}.bias"] = torch.randn(shape[0], generator=g) * 0.1
        for index, (out_f, in_f) in zip((1, 4), [(4096, 9216), (4096, 4096)]):
            s = torch.randn(out_f + in_f - 1, generator=g) * math.sqrt(2.0 / in_f)
            sd[f"classifier.{index}.weight"] = s.as_strided((out_f, in_f), (1, 1))
            sd[f"classifier.{index}.bias"] = torch.randn(out_f, generator=g) * 0.1
        # the last layer is small: a dense random matrix, so the logits take both signs
        sd["classifier.6.weight"] = torch.randn(10, 4096, generator=g) / 64.0
        sd["classifier.6.bias"] = torch.randn(10, generator=g) * 0.1
        return sd
    return _cached("sd", build)


def _inputs(device):
    def build():
        g = generator(5)
        return {"x99": torch.randn(2, 3, 99, 99, generator=g).to(device),
                "x127": torch.randn(1, 3, 127, 127, generator=g).to(device),
                "z": torch.randn(2, 9216, generator=g).to(device),
                "f13": torch.relu(torch.randn(1, 256, 13, 13, generator=g)).to(device)}
    return _cached(("inputs", device), build)


def _reference_data(reference, device):
    """The reference AlexNet(num_classes=10) with the test weights: its layouts, its features module and every
    output the tests compare with, computed once per worker and device (not the 57M-parameter model)."""
    def build():
        with torch.device("meta"):
            ref = reference.AlexNet(num_classes=10)
        ref = ref.to_empty(device=device)
        ref.load_state_dict(_forward_state_dict())
        ref.eval()
        x = _inputs(device)
        with torch.no_grad():
            outputs = {"features x99": ref.features(x["x99"]), "features x127": ref.features(x["x127"]),
                       "avgpool f13": ref.avgpool(x["f13"]), "classifier z": ref.classifier(x["z"]),
                       "forward x127": ref(x["x127"])}
        return {"layout": state_dict_layout(ref), "features_layout": state_dict_layout(ref.features),
                "features": ref.features, "outputs": outputs}
    return _cached(("reference", device), build)


def _student_model(student, reference, device):
    """The student's AlexNet(num_classes=10) materialised on ``device`` with the test weights, built once per
    submission and device (the 57M-parameter copy is the slowest step of this file), or None if its state_dict
    layout differs from the reference's."""
    def build():
        mine = _build_on_meta(student, _("AlexNet(num_classes=10) on the meta device"), num_classes=10)
        if state_dict_layout(mine) != _reference_data(reference, device)["layout"]:
            return None
        call(f"AlexNet(num_classes=10).to_empty(device={device!r})", mine.to_empty, device=device)
        mine.eval()
        mine.load_state_dict(_forward_state_dict())   # by name: the layouts are equal
        return mine
    return _student_cached(student, ("model", device), build)


@pytest.mark.points(3)
@pytest.mark.exercise("alexnet")
def test_alexnet_features_match_reference(student, reference, device):
    """AlexNet.features computes torchvision's function (same weights → same output)"""
    ref = _reference_data(reference, device)
    mine = _student_model(student, reference, device)
    if mine is not None:
        features, how = call("AlexNet().features", getattr, mine, "features"), "by name"
    else:   # the classifier may be what differs: try the features alone
        mine = _build_on_meta(student, _("AlexNet(num_classes=10) on the meta device"), num_classes=10)
        features = call("AlexNet().features", getattr, mine, "features",
                        hint=_("name the convolutional part self.features"))
        _require_layout("AlexNet().features", features, ref["features_layout"])
        call(_("moving AlexNet().features to {device}", device=device), features.to_empty, device=device)
        features.eval()
        how = load_weights(features, ref["features"])
    inputs = _inputs(device)
    for name, label in [("x99", "2x3x99x99"), ("x127", "1x3x127x127")]:
        got = call(f"AlexNet().features({label})", features, inputs[name])
        assert_same_output(got, ref["outputs"][f"features {name}"],
                           what=_("AlexNet().features on a {shape} input ({weights})", shape=label,
                                  weights=_weights_loaded(how)),
                           hint=_("compare with the features table: 11x11 stride 4 padding 2, 5x5 padding 2, "
                                  "3x3 padding 1; a ReLU after every conv; max-pool 3x3 stride 2 after conv "
                                  "1, 2 and 5"),
                           **tolerance(device))


@pytest.mark.points(3)
@pytest.mark.exercise("alexnet")
def test_alexnet_forward_matches_reference(student, reference, device):
    """AlexNet's adaptive pool, classifier and forward pass equal torchvision's (eval mode, num_classes=10)"""
    ref = _reference_data(reference, device)
    mine = _student_model(student, reference, device)
    if mine is None:
        mine = _build_on_meta(student, _("AlexNet(num_classes=10) on the meta device"), num_classes=10)
        _require_layout("AlexNet(num_classes=10)", mine, ref["layout"])
    inputs, tol, outputs = _inputs(device), tolerance(device), ref["outputs"]
    # 13x13 → 6x6 tells average from max pooling (on a 3x3 map both just repeat each value)
    got = call("AlexNet().avgpool(1x256x13x13)", mine.avgpool, inputs["f13"])
    assert_same_output(got, outputs["avgpool f13"], what=_("AlexNet().avgpool on a 1x256x13x13 input"),
                       hint=_("self.avgpool = nn.AdaptiveAvgPool2d((6, 6)): average (not max) pooling to "
                              "6x6"), **tol)
    try:
        got = call("AlexNet(num_classes=10)(1x3x127x127)", mine, inputs["x127"],
                   hint=_("forward is features → avgpool → torch.flatten(x, 1) → classifier"))
        assert_same_output(got, outputs["forward x127"],
                           what=_("AlexNet(num_classes=10) on a 1x3x127x127 input in eval mode (weights "
                                  "loaded by name)"),
                           hint=_("forward is features → avgpool → torch.flatten(x, 1) → classifier, in that "
                                  "order"),
                           **tol)
    except CheckFailed:
        # say which part differs when it is the classifier (checked on failure only: it reads 218 MB)
        got = call(_("AlexNet().classifier(2x9216 input)"), mine.classifier, inputs["z"])
        assert_same_output(got, outputs["classifier z"],
                           what=_("AlexNet().classifier on a 2x9216 input in eval mode (weights loaded by "
                                  "name)"),
                           hint=_("Dropout → Linear(9216, 4096) → ReLU → Dropout → Linear(4096, 4096) → ReLU "
                                  "→ Linear(4096, num_classes); no ReLU or softmax at the end"), **tol)
        raise
