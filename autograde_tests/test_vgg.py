"""Hidden tests for the VGG assignment (conv_params, stacked_conv_params, receptive_field,
empirical_receptive_field, vgg_block, vgg16/vgg19).

Expected numbers are computed here, in the trusted process (k·k·C_in·C_out, the receptive-field recursion
r += (k − 1)·j, j *= s), or taken from the reference solution and torchvision's committed layout. The models
handed to the student's empirical_receptive_field are built inside the sandbox from torch.nn (the notebook's
own `nn`), then given weights made here with a fixed seed, so the measurement does not depend on the student's
vgg_block. Whole VGGs are only ever built on the meta device; the forward comparison materialises `features`
alone (never the 120M-parameter classifier).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from grader.checks import (ResultCache, randomise_batchnorm, assert_same_layout, CheckFailed, assert_equal, assert_param_count, assert_same_output, assert_tensor,
                           call_on, describe, fail, load_weights, param_count, state_dict_layout)
from grader.sandbox.client import StudentRaised

TORCHVISION = Path(__file__).resolve().parent.parent / "tests/data/torchvision"
VGG16_PARAMS, VGG19_PARAMS = 138_357_544, 143_667_240
CONFIGS = {"vgg16": [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)],
           "vgg19": [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]}
ATOL, RTOL = 1e-7, 1e-6  # float64 on both sides (vgg_block)


# --------------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------------
_cache = ResultCache()
_cached = _cache.once


_student_cached = _cache.per_submission


def _student_call(what, hint, fn, *args, **kwargs):
    """Call student code; turn an exception into a failure that says what was being checked."""
    try:
        return fn(*args, **kwargs)
    except StudentRaised as err:
        if err.type_name == "NotImplementedError":
            raise
        trace = f"\n{err.traceback}" if err.traceback else ""
        fail(f"{what}: your code raised {err.type_name}: {err.message}{trace}", hint)


def _signature(name: str, args: tuple, kwargs: dict | None = None) -> str:
    kwargs = kwargs or {}
    return f"{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"


def _require_int(what: str, got, expected: int, hint: str) -> int:
    if isinstance(got, bool) or not isinstance(got, int):
        shown = got if not isinstance(got, torch.Tensor) else f"tensor {got.tolist()!r}"
        fail(f"{what}: expected the int {expected:,}, got {shown!r} ({type(got).__name__}).", hint)
    return got


def _rf(kernels, strides=None) -> int:
    """The receptive-field recursion, computed here: r += (k − 1)·j, then j *= s."""
    strides = [1] * len(kernels) if strides is None else strides
    r, j = 1, 1
    for k, s in zip(kernels, strides):
        r += (k - 1) * j
        j *= s
    return r


DEVICE_WORDS = ("device", "meta", "cpu", "cuda", "is_pinned", "expected all tensors")


def _run_meta(fn, what: str, hint: str):
    try:
        return fn()
    except StudentRaised as err:
        if err.type_name == "NotImplementedError":
            raise
        if not any(word in err.message.lower() for word in DEVICE_WORDS):
            hint = ("this error is not about devices: your code fails on this input whatever the device "
                    "(see the other tests' messages for this function)")
        fail(f"{what}: your code raised {err.type_name}: {err.message}" +
             (f"\n{err.traceback}" if err.traceback else ""), hint)


# --------------------------------------------------------------------------------------------------------------------
# 1. conv_params
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.points(2)
@pytest.mark.exercise("conv_params")
def test_conv_params(student):
    """conv_params counts k·k·C_in·C_out weights (3x3x128x128 = 147,456), plus C_out biases only with bias=True"""
    cases = [((3, 128, 128), {}), ((5, 128, 128), {}), ((1, 128, 32), {}), ((3, 64, 128), {}), ((7, 3, 64), {}),
             ((2, 5, 7), {}), ((11, 3, 96), {"bias": False}), ((3, 128, 128), {"bias": True}),
             ((3, 3, 64), {"bias": True}), ((1, 192, 64), {"bias": True}), ((3, 1, 1), {"bias": True}),
             ((3, 16, 32, True), {}), ((5, 12, 20, False), {})]
    for args, kwargs in cases:
        k, cin, cout = args[:3]
        bias = kwargs.get("bias", args[3] if len(args) > 3 else False)
        weights = k * k * cin * cout
        expected = weights + (cout if bias else 0)
        what = _signature("conv_params", args, kwargs)
        got = _require_int(what, _student_call(what, "", student.conv_params, *args, **kwargs), expected,
                           "return a Python int (integer arithmetic: no /, math.pow or torch tensors)")
        if got == expected:
            continue
        diff = got - expected
        if not bias and diff == cout:
            fail(f"{what}: parameter count {got:,} ≠ {expected:,}: the difference is {cout} biases — the "
                 f"lecture's count uses bias=False.",
                 "count the biases only when bias=True (the default is bias=False, unlike nn.Conv2d's)")
        if bias and diff == -cout:
            fail(f"{what}: parameter count {got:,} ≠ {expected:,}: the {cout} biases are missing.",
                 "with bias=True every output channel adds one bias: + C_out")
        if bias and diff == cin - cout:
            fail(f"{what}: parameter count {got:,} ≠ {expected:,}: you added {cin} biases (one per input channel).",
                 "there is one bias per output channel (per filter): + C_out, not + C_in")
        if got in (k * cin * cout, k * cin * cout + (cout if bias else 0)):
            hint = "a k×k kernel has k·k weights per (input, output) channel pair: k², not k"
        elif got in (k * k * cin, k * k * cout, k * k * cin + (cout if bias else 0)):
            hint = "one k×k×C_in filter per output channel: k·k·C_in·C_out"
        elif got in (k * k * (cin + cout), 2 * k * k * cin * cout):
            hint = "multiply the channels, don't add them: k·k·C_in·C_out"
        else:
            hint = f"{k}·{k}·{cin}·{cout} = {weights:,} weights" + (f", + {cout} biases" if bias else ", no bias")
        fail(f"{what}: parameter count {got:,} ≠ {expected:,} (difference {diff:+,}).", hint)


# --------------------------------------------------------------------------------------------------------------------
# 2. stacked_conv_params
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.points(2)
@pytest.mark.exercise("stacked_conv_params")
def test_stacked_conv_params(student):
    """Two 3x3 convs 128→128 cost 294,912 parameters, one 5x5 costs 409,600 (and other kernels, widths, depths)"""
    cases = [((3, 128, 2), {}), ((5, 128, 1), {}), ((3, 128, 3), {}), ((7, 128, 1), {}), ((3, 64, 4), {}),
             ((1, 32, 5), {}), ((3, 128, 2), {"bias": True}), ((5, 16, 3), {"bias": True}),
             ((3, 7, 2), {"bias": False}), ((3, 10, 0), {}), ((3, 8, 2, True), {})]
    for args, kwargs in cases:
        k, c, d = args[:3]
        bias = kwargs.get("bias", args[3] if len(args) > 3 else False)
        one = k * k * c * c + (c if bias else 0)
        expected = d * one
        what = _signature("stacked_conv_params", args, kwargs)
        got = _require_int(what, _student_call(what, "", student.stacked_conv_params, *args, **kwargs), expected,
                           "return a Python int (integer arithmetic: no /, math.pow or torch tensors)")
        if got == expected:
            continue
        diff = got - expected
        if not bias and diff == d * c and d:
            fail(f"{what}: parameter count {got:,} ≠ {expected:,}: the difference is {d}×{c} biases — the "
                 f"lecture's count uses bias=False.",
                 "count biases only when bias=True: pass bias on to conv_params (its default is bias=False)")
        if bias and diff == -d * c and d:
            fail(f"{what}: parameter count {got:,} ≠ {expected:,}: the {d}×{c} biases are missing.",
                 "with bias=True each of the depth convolutions has channels biases: pass bias=bias to conv_params")
        if bias and diff == c - d * c:
            fail(f"{what}: parameter count {got:,} ≠ {expected:,}: only one convolution's {c} biases are counted.",
                 "every one of the depth convolutions has its own channels biases")
        if got in (k * k * c * d, k * k * c * d + (d * c if bias else 0)):
            hint = ("each convolution is channels → channels, so it has k·k·C·C weights: channels appears twice "
                    "(C_in = C_out = channels), then times depth")
        elif d != 1 and got == one:
            hint = "depth is the number of stacked convolutions: multiply one convolution's count by depth"
        elif got in (k * k * d * d * c * c, (k * d) ** 2 * c * c):
            hint = ("stacking does not make one bigger kernel: depth separate k×k convolutions, "
                    "depth · k·k·C·C (the whole point of 3x3 stacks)")
        else:
            hint = f"depth × conv_params(kernel_size, channels, channels, bias) = {d} × {one:,}"
        fail(f"{what}: parameter count {got:,} ≠ {expected:,} (difference {diff:+,}).", hint)


# --------------------------------------------------------------------------------------------------------------------
# 3. receptive_field
# --------------------------------------------------------------------------------------------------------------------
_VGG16_KERNELS, _VGG16_STRIDES = [], []
for _n, _ in CONFIGS["vgg16"]:
    _VGG16_KERNELS += [3] * _n + [2]
    _VGG16_STRIDES += [1] * _n + [2]
_ALEXNET_KERNELS, _ALEXNET_STRIDES = [11, 3, 5, 3, 3, 3, 3, 3], [4, 2, 1, 2, 1, 1, 1, 2]


def _rf_variants(kernels, strides):
    strides = [1] * len(kernels) if strides is None else list(strides)
    own = 1
    j = 1
    for k, s in zip(kernels, strides):  # the layer's own stride applied before its kernel
        j *= s
        own += (k - 1) * j
    forward = 1
    for k, s in zip(kernels, strides):  # the output-to-input recursion walked from the input
        forward = (forward - 1) * s + k
    return {
        "ignored": 1 + sum(k - 1 for k in kernels),
        "own": own,
        "forward": forward,
        "sum": sum(kernels),
    }


@pytest.mark.points(3)
@pytest.mark.exercise("receptive_field")
def test_receptive_field(student):
    """receptive_field: 3x3 stacks grow by 2 per layer ([3,3] → 5), strides multiply every later step"""
    cases = [(([3, 3],), {}), (([3, 3, 3],), {}), (([5],), {}), (([],), {}), (([1, 1, 1],), {}),
             (((3, 3, 3, 3),), {}), (([7],), {"strides": None}), (([3, 3],), {"strides": [1, 1]}),
             (([3, 3],), {"strides": [2, 2]}), (([11],), {"strides": [4]}), (([7, 3, 3],), {"strides": [2, 1, 1]}),
             (([3, 2, 3, 2],), {"strides": (1, 2, 1, 2)}), (([3, 3, 2, 3], [1, 1, 2, 1]), {}),
             ((_ALEXNET_KERNELS,), {"strides": _ALEXNET_STRIDES}), ((_VGG16_KERNELS,), {"strides": _VGG16_STRIDES})]
    wrong = []   # (what, got, expected, kernels, strides) of every case that differs
    for args, kwargs in cases:
        kernels = list(args[0])
        strides = kwargs.get("strides", args[1] if len(args) > 1 else None)
        expected = _rf(kernels, None if strides is None else list(strides))
        if kernels is _ALEXNET_KERNELS:
            what = "receptive_field of AlexNet's features (kernels 11,3,5,3,3,3,3,3, strides 4,2,1,2,1,1,1,2)"
        elif len(kernels) > 12:
            what = "receptive_field of VGG16's features (13 3x3 convs, 5 2x2/2 max-pools)"
        else:
            what = _signature("receptive_field", args, kwargs)
        got = _require_int(what, _student_call(what, "strides=None means stride 1 for every layer",
                                               student.receptive_field, *args, **kwargs), expected,
                           "return a Python int (a side length in input pixels)")
        if got != expected:
            wrong.append((what, got, expected, kernels, strides))
    if not wrong:
        return
    # name the mistake that explains every wrong answer (several can coincide on a single case)
    hints = [
        ("ignored", "the strides are ignored: after a stride-s layer every later step covers s times more input "
                    "pixels — keep the jump j (j *= s after each layer) and add (k − 1)·j"),
        ("own", "a layer's stride only affects the layers after it: add (k − 1)·j with the jump of the layers "
                "before, then update j *= s"),
        ("forward", "r = (r − 1)·s + k is the recursion from the output back to the input: walk the layers in "
                    "reverse order for it, or go forward with r += (k − 1)·j, j *= s"),
        ("sum", "r starts at 1 (one pixel) and each layer adds k − 1, not k: [3, 3] → 1 + 2 + 2 = 5"),
    ]
    hint = "r_0 = 1, j_0 = 1; for each layer r += (k − 1)·j, then j *= s"
    for variant, text in hints:
        if all(got == _rf_variants(kernels, strides)[variant] for _, got, _, kernels, strides in wrong):
            hint = text
            break
    else:
        if any(not kernels for _, _, _, kernels, _ in wrong):
            hint = "no layer: each value sees exactly one pixel, r = 1; " + hint
    what, got, expected, _, _ = wrong[0]
    more = f" ({len(wrong)} of {len(cases)} cases are wrong)" if len(wrong) > 1 else ""
    fail(f"{what}: expected {expected:,}, got {got:,}{more}.", hint)


# --------------------------------------------------------------------------------------------------------------------
# 4. empirical_receptive_field
# --------------------------------------------------------------------------------------------------------------------
# layer specs: ("conv", in, out, k, stride, padding), ("relu",), ("pool", k, stride), ("bn", channels)
RF_STRIDE1 = [
    ("two 3x3 convs with a ReLU between", 1, [("conv", 1, 8, 3, 1, 1), ("relu",), ("conv", 8, 8, 3, 1, 1)], None),
    ("three 3x3 convs on a 15x15 input (4 input channels)", 4,
     [("conv", 4, 8, 3, 1, 1), ("relu",), ("conv", 8, 8, 3, 1, 1), ("relu",), ("conv", 8, 8, 3, 1, 1)], 15),
    ("one 5x5 conv (2 input channels) on a 17x17 input", 2, [("conv", 2, 8, 5, 1, 2)], 17),
    ("one 7x7 conv (3 input channels) on a 21x21 input", 3, [("conv", 3, 8, 7, 1, 3)], 21),
    ("a 3x3 conv without padding (output smaller than the input)", 1, [("conv", 1, 4, 3, 1, 0)], None),
]
RF_STRIDED = [
    ("two 3x3 convs with stride 2 (3 input channels)", 3, [("conv", 3, 8, 3, 2, 1), ("relu",),
                                                            ("conv", 8, 8, 3, 2, 1)], None),
    ("two 3x3 convs, ReLUs, then a 2x2/2 max-pool (a VGG block)", 4,
     [("conv", 4, 8, 3, 1, 1), ("relu",), ("conv", 8, 8, 3, 1, 1), ("relu",), ("pool", 2, 2)], None),
    ("5x5 conv, 2x2/2 max-pool, 3x3 conv", 2, [("conv", 2, 8, 5, 1, 2), ("relu",), ("pool", 2, 2),
                                               ("conv", 8, 8, 3, 1, 1)], None),
    ("7x7 stride 2, 7x7 stride 2, 7x7 on a 57x57 input", 1,
     [("conv", 1, 8, 7, 2, 3), ("relu",), ("conv", 8, 8, 7, 2, 3), ("relu",), ("conv", 8, 8, 7, 1, 3)], 57),
]
RF_BN = ("3x3 conv, BatchNorm, ReLU, 3x3 conv", 3,
         [("conv", 3, 8, 3, 1, 1), ("bn", 8), ("relu",), ("conv", 8, 8, 3, 1, 1)], None)


def _spec_rf(spec) -> int:
    kernels = [it[3] if it[0] == "conv" else it[1] if it[0] == "pool" else 1 for it in spec]
    strides = [it[4] if it[0] == "conv" else it[2] if it[0] == "pool" else 1 for it in spec]
    return _rf(kernels, strides)


def _build_spec(make, spec):
    """nn.Sequential from a spec; ``make(name, *args)`` builds one torch.nn class (here or in the sandbox)."""
    layers = []
    for item in spec:
        if item[0] == "conv":
            _, cin, cout, k, s, p = item
            layers.append(make("Conv2d", cin, cout, k, stride=s, padding=p))
        elif item[0] == "relu":
            layers.append(make("ReLU"))
        elif item[0] == "pool":
            layers.append(make("MaxPool2d", item[1], item[2]))
        elif item[0] == "bn":
            layers.append(make("BatchNorm2d", item[1]))
    return make("Sequential", *layers)


def _local_model(name, spec):
    """The model with its test weights (fixed seed, BN statistics randomised), built here once."""
    def build():
        with torch.random.fork_rng(devices=[]):   # the trusted process's global RNG is left alone
            torch.manual_seed(sum(map(ord, name)))
            model = _build_spec(lambda cls, *a, **kw: getattr(torch.nn, cls)(*a, **kw), spec)
        return randomise_batchnorm(model, 7)
    return _cached(("rf-model", name), build)


def _remote_model(student, name, spec, device: str, train: bool = False):
    """The same model built in the sandbox with the notebook's torch.nn, carrying the weights made here."""
    def nn_namespace():
        try:
            return student.nn
        except StudentRaised:
            try:
                return student.torch.nn
            except StudentRaised:
                fail("the notebook's setup cell (import torch, torch.nn as nn) did not run: `nn` is not defined.",
                     "keep the locked setup cell as it was released")
    nn_remote = _student_cached(student, "nn", nn_namespace)
    classes = _student_cached(student, "nn-classes", dict)

    def make(cls, *args, **kwargs):
        if cls not in classes:
            classes[cls] = getattr(nn_remote, cls)
        return classes[cls](*args, **kwargs)

    model = _build_spec(make, spec)   # new modules are in training mode
    model.load_state_dict(_local_model(name, spec).state_dict())
    if device != "cpu":
        model.to(device)
    if not train:
        model.eval()
    return model


def _reference_measure(reference, name, spec, in_channels, size, device):
    def build():
        model = copy.deepcopy(_local_model(name, spec)).to(device).eval()
        return reference.empirical_receptive_field(model, in_channels, size or 33)
    return _cached(("rf-reference", reference, name, device), build)


def _rf_hint(got: int, expected: int, size) -> str:
    """The likely mistake behind a wrong measured receptive field."""
    size_arg = size or 33
    if got == size_arg and expected < size_arg:
        hint = ("every input pixel got a non-zero gradient: backpropagate the centre output pixel only "
                "(out[:, :, H // 2, W // 2].sum()), not the whole output")
    elif size and size > 33 and got <= 33 < expected:
        hint = (f"the region is clipped at the border: make the input size × size (here {size}), "
                "not a fixed 33")
    elif got == 0:
        hint = "no non-zero gradient was found: did the gradient reach the input (requires_grad=True on x)?"
    elif got < expected:
        hint = ("a smaller region than the formula: take the centre of the output, "
                "out[..., out.shape[-2] // 2, out.shape[-1] // 2] (a corner pixel's field is cut off by the border); "
                "and for one input, inactive ReLUs and max-pooling block some paths — combine the gradients of a "
                "batch of random inputs (e.g. 16); measure last non-zero row − first non-zero row + 1")
    else:
        hint = ("measure the extent of the non-zero gradient: last non-zero row − first non-zero row + 1 "
                "(after summing |grad| over batch and channels)")
    return hint


def _check_rf_case(student, reference, name, in_channels, spec, size, device="cpu"):
    expected = _spec_rf(spec)
    model = _remote_model(student, name, spec, device, train=True)
    what = (f"empirical_receptive_field on {name}" + (f", size={size}" if size else "") +
            (f" (model on {device})" if device != "cpu" else ""))
    hint_call = ("take the centre of the model's *output* (out.shape[-2] // 2, out.shape[-1] // 2), and make the "
                 "input (N, in_channels, size, size) on the model's device")
    if size:
        got = _student_call(what, hint_call, student.empirical_receptive_field, model, in_channels, size=size)
    else:
        got = _student_call(what, hint_call, student.empirical_receptive_field, model, in_channels)
    got = _require_int(what, got, expected, "return the side of the region as a Python int (e.g. int(...))")
    accepted = {expected}
    if device != "cpu":  # GPU convolution algorithms may leave round-off where the exact gradient is zero
        accepted.add(_reference_measure(reference, name, spec, in_channels, size, device))
    if got in accepted:
        return
    hint = _rf_hint(got, expected, size)
    fail(f"{what}: expected a receptive field of {expected} (formula r += (k − 1)·j), measured {got}.", hint)


@pytest.mark.points(2)
@pytest.mark.exercise("empirical_receptive_field")
def test_empirical_receptive_field_stride_one(student, reference):
    """Measured receptive field of stride-1 conv stacks equals the formula (2 and 3 stacked 3x3 convs, 5x5, 7x7)"""
    for name, in_channels, spec, size in RF_STRIDE1:
        _check_rf_case(student, reference, name, in_channels, spec, size)


@pytest.mark.points(3)
@pytest.mark.exercise("empirical_receptive_field")
def test_empirical_receptive_field_strides_and_pools(student, reference, device):
    """Measured receptive field through strided convs and max-pools equals the formula, on the model's device"""
    for name, in_channels, spec, size in RF_STRIDED:
        _check_rf_case(student, reference, name, in_channels, spec, size, device)


@pytest.mark.points(2)
@pytest.mark.exercise("empirical_receptive_field")
def test_empirical_receptive_field_leaves_model_alone(student):
    """empirical_receptive_field measures in eval mode, then restores the model's mode; weights and BN stats unchanged"""
    name, in_channels, spec, size = RF_BN
    expected = _spec_rf(spec)
    before = _local_model(name, spec).state_dict()
    for train in (False, True):
        mode = "training" if train else "eval"
        model = _remote_model(student, name, spec, "cpu", train=train)
        what = f"empirical_receptive_field on a model in {mode} mode ({name})"
        got = _student_call(what, "", student.empirical_receptive_field, model, in_channels)
        got = _require_int(what, got, expected, "return the side of the region as a Python int (e.g. int(...))")
        if got != expected:
            if got == 33 and train:
                hint = ("BatchNorm in training mode normalises with statistics of the whole batch and every pixel, "
                        "so every input pixel seems to matter: measure with model.eval(), then put the model back "
                        "in the mode it was in")
            else:
                hint = _rf_hint(got, expected, size)
            fail(f"{what}: expected {expected}, measured {got}.", hint)
        info = describe(model)
        if info["training"] is not train:
            fail(f"{what}: the model was in {mode} mode before the call and in "
                 f"{'training' if info['training'] else 'eval'} mode after it.",
                 "remember model.training before switching to eval(), and call model.train(was_training) "
                 "afterwards (a try/finally keeps it even if something fails)")
        after = model.state_dict()
        changed = [key for key, value in before.items()
                   if key not in after or not torch.equal(after[key].cpu(), value)]
        if changed:
            buffers = all("running" in k or "num_batches" in k for k in changed)
            fail(f"{what}: the call changed the model's state: {', '.join(changed[:4])}"
                 f"{' …' if len(changed) > 4 else ''}.",
                 "a forward pass in training mode updates BatchNorm's running statistics: run the measurement in "
                 "eval mode" if buffers else
                 "measure, don't modify: no re-initialising, fill_ or optimizer steps on the model's weights")


# --------------------------------------------------------------------------------------------------------------------
# 5. vgg_block
# --------------------------------------------------------------------------------------------------------------------
BLOCK_CONFIGS = [(64, 128, 2), (3, 64, 2), (256, 512, 3), (512, 512, 4), (5, 7, 1)]


def _block_types(n: int) -> list[str]:
    return ["Conv2d", "ReLU"] * n + ["MaxPool2d"]


def _block_params(cin: int, cout: int, n: int) -> int:
    return (9 * cin * cout + cout) + (n - 1) * (9 * cout * cout + cout)


def _ref_block_layout(reference, args):
    def build():
        with torch.device("meta"):
            return state_dict_layout(reference.vgg_block(*args))
    return _cached(("block-layout", reference, args), build)


@pytest.mark.points(2)
@pytest.mark.exercise("vgg_block")
@pytest.mark.confirmed_by("test_vgg_block_matches_reference")
def test_vgg_block_layers(student, reference):
    """vgg_block is an nn.Sequential of num_convs × (3x3 conv, ReLU) then a max-pool, with biased convs in → out → out"""
    for args in BLOCK_CONFIGS:
        cin, cout, n = args
        what = _signature("vgg_block", args)
        block = _run_meta(lambda: call_on("meta", student.vgg_block, *args), f"{what} built on the meta device",
                          "build the layers from the arguments only; no tensors on a fixed device")
        info = describe(block)
        if "Sequential" not in info["mro"]:
            fail(f"{what}: expected an nn.Sequential, got a {info['type']}.",
                 "return nn.Sequential(*layers), so its layers can be unpacked into VGG's flat features")
        types = [t for _, t in info["children"]]
        expected = _block_types(n)
        if types != expected:
            if "ReLU" not in types:
                hint = "a ReLU follows every 3x3 convolution (nn.ReLU(inplace=True)): the stack's extra non-linearity"
            elif "MaxPool2d" not in types:
                hint = "the block ends with a 2x2 max-pool with stride 2 (nn.MaxPool2d(kernel_size=2, stride=2))"
            elif types.count("Conv2d") != n:
                hint = f"num_convs={n} convolutions, each followed by its ReLU"
            else:
                hint = "conv, ReLU, conv, ReLU, …, then the max-pool last, as separate layers of one nn.Sequential"
            assert_equal(f"{what}: layer types", types, expected, hint=hint)
        expected_params = _block_params(cin, cout, n)
        got = param_count(block)
        if got != expected_params:
            if got == expected_params - n * cout:
                hint = (f"the convolutions have no bias: VGG's (and torchvision's) 3x3 convs keep PyTorch's default "
                        f"bias=True (the difference is {n}×{cout} biases)")
            elif got == n * (9 * cin * cout + cout):
                hint = "only the first convolution goes in_channels → out_channels; the others are out → out"
            else:
                hint = (f"3x3 convs {cin}→{cout}, then {n - 1} × {cout}→{cout}, each with {cout} biases "
                        f"(check the kernel size: 3x3)")
            assert_param_count(what, block, expected_params, hint=hint)
        layout = state_dict_layout(block)
        ref_layout = _ref_block_layout(reference, args)
        if layout != ref_layout:
            fail(f"{what}: state_dict entries {[(k, s) for k, s, _ in layout][:4]} … differ from the expected "
                 f"{[(k, s) for k, s, _ in ref_layout][:4]} ….",
                 "indices 0, 2, 4, … hold the convs (weight (out, in, 3, 3) and bias), the ReLUs and the pool "
                 "have no parameters")


def _ref_block_case(reference, args, shape, device, seed):
    def build():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ref = reference.vgg_block(*args)
        ref = ref.double().to(device).eval()
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64).to(device)
        with torch.no_grad():
            out = ref(x)
        return ref, x, out
    return _cached(("block-case", reference, args, shape, device, seed), build)


def _block_variants(ref, x):
    convs = [m for m in ref if isinstance(m, torch.nn.Conv2d)]
    no_relu, relu = x, x
    for conv in convs:
        no_relu = conv(no_relu)
        relu = F.relu(conv(relu))
    return [(F.max_pool2d(no_relu, 2), "the ReLU after each 3x3 convolution is missing"),
            (F.avg_pool2d(relu, 2), "that is average pooling: VGG uses a 2x2 max-pool with stride 2"),
            (F.max_pool2d(F.relu(no_relu), 2), "the ReLUs between the convolutions are missing (only the last "
                                                "conv is followed by one)")]


@pytest.mark.points(3)
@pytest.mark.exercise("vgg_block")
def test_vgg_block_matches_reference(student, reference, device):
    """vgg_block computes (conv 3x3 pad 1 → ReLU) × n → 2x2 max-pool: same output as the reference, odd sizes too"""
    for args, shape, seed in [((4, 6, 2), (2, 4, 9, 9), 0), ((5, 5, 3), (1, 5, 8, 7), 1),
                              ((3, 8, 1), (1, 3, 6, 11), 2)]:
        cin, cout, n = args
        ref, x, expected = _ref_block_case(reference, args, shape, device, seed)
        what = f"{_signature('vgg_block', args)} on an input of shape {shape}"
        mine = _student_call(what, "", student.vgg_block, *args)
        mine.double()
        mine.to(device)
        mine.eval()
        try:
            how = load_weights(mine, ref)
        except CheckFailed:
            layout = state_dict_layout(mine)
            if len(layout) < len(ref.state_dict()) and not any(k.endswith("bias") for k, _, _ in layout):
                fail(f"{what}: the reference's weights cannot be loaded: your convolutions have no bias "
                     f"({len(layout)} state_dict entries, the reference has {len(ref.state_dict())}).",
                     "VGG's 3x3 convolutions have biases: keep nn.Conv2d's default bias=True")
            raise
        got = _student_call(what, "", mine, x)
        assert_tensor(what, got, hint="the block returns the pooled feature map")
        if tuple(got.shape) != tuple(expected.shape):
            h, w = shape[2], shape[3]
            if got.dim() == 4 and tuple(got.shape[2:]) == (h, w):
                hint = "the 2x2 max-pool with stride 2 at the end is missing: it halves height and width"
            elif got.dim() == 4 and tuple(got.shape[2:]) == ((h - 2 * n) // 2, (w - 2 * n) // 2):
                hint = "the 3x3 convolutions need padding=1 to keep height and width (only the pool halves them)"
            elif got.dim() == 4 and tuple(got.shape[2:]) == (h - 1, w - 1):
                hint = "the max-pool needs stride 2 (nn.MaxPool2d(kernel_size=2, stride=2)): it halves H and W"
            elif got.dim() == 4 and got.shape[1] != cout:
                hint = "the block's output has out_channels channels"
            else:
                hint = "3x3 convs with padding 1 keep H×W; the 2x2/2 max-pool halves them, rounding down"
            assert_tensor(what, got, shape=expected.shape, hint=hint)
        diag = ""
        if isinstance(got, torch.Tensor) and not torch.allclose(got.double().cpu(), expected.double().cpu(),
                                                                atol=ATOL, rtol=RTOL):
            with torch.no_grad():
                for out, explanation in _block_variants(ref, x):
                    if torch.allclose(got.double().cpu(), out.double().cpu(), atol=ATOL, rtol=RTOL):
                        diag = explanation
                        break
        assert_same_output(got, expected, f"{what} (float64, reference weights loaded {how})", atol=ATOL, rtol=RTOL,
                           hint=diag or "num_convs × (Conv2d 3x3 padding 1, ReLU), then MaxPool2d(2, 2), in this "
                                        "order")


# --------------------------------------------------------------------------------------------------------------------
# 6. vgg16 / vgg19
# --------------------------------------------------------------------------------------------------------------------
def _vgg_params(cfg, num_classes=1000, conv_bias=True, fc_in=512 * 7 * 7) -> int:
    total, cin = 0, 3
    for n, c in cfg:
        for _ in range(n):
            total += 9 * cin * c + (c if conv_bias else 0)
            cin = c
    return total + fc_in * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * num_classes + num_classes


def _build_vgg(student, name, **kwargs):
    what = _signature(f"{name}", (), kwargs) + " built on the meta device"
    return _run_meta(lambda: call_on("meta", getattr(student, name), **kwargs), what,
                     "build every layer from the arguments; nothing on a fixed device (no .to('cpu'), no "
                     "device='cpu' tensors)")


def _student_vgg(student, name, **kwargs):
    """(model on meta, describe(model)), once per submission."""
    def build():
        model = _build_vgg(student, name, **kwargs)
        return model, describe(model)
    return _student_cached(student, ("vgg", name, tuple(sorted(kwargs.items()))), build)


def _ref_vgg_describe(reference, name, **kwargs):
    def build():
        with torch.device("meta"):
            return describe(getattr(reference, name)(**kwargs))
    return _cached(("vgg-describe", reference, name, tuple(sorted(kwargs.items()))), build)


def _torchvision_layout(name):
    def build():
        path = TORCHVISION / f"{name}.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return data["num_params"], [(k, tuple(s), d) for k, s, d in data["state_dict"]]
    return _cached(("torchvision", name), build)


def _vgg_count_hint(name, got, num_classes) -> str:
    cfg = CONFIGS[name]
    other = "vgg16" if name == "vgg19" else "vgg19"
    if got == _vgg_params(CONFIGS[other], num_classes):
        return (f"that is {other.upper()}'s count: {name.upper()} has "
                f"{'2-2-4-4-4' if name == 'vgg19' else '2-2-3-3-3'} 3x3 convs per block "
                f"(configuration {'E' if name == 'vgg19' else 'D'})")
    if num_classes != 1000 and got == _vgg_params(cfg, 1000):
        return "num_classes is ignored: the last Linear layer is Linear(4096, num_classes)"
    if got == _vgg_params(cfg, num_classes, conv_bias=False):
        return "the convolutions have no bias: VGG's 3x3 convs have biases (PyTorch's default)"
    if got == _vgg_params(cfg, num_classes, fc_in=512):
        return ("the first Linear sees 512 features: after the 7x7 adaptive average pool the feature map is "
                "512×7×7 = 25,088 values, so it is Linear(512 * 7 * 7, 4096)")
    return (f"{sum(n for n, _ in cfg)} biased 3x3 convs ({'-'.join(str(n) for n, _ in cfg)} per block, "
            f"{', '.join(str(c) for _, c in cfg)} channels) + Linear(25088, 4096), Linear(4096, 4096), "
            f"Linear(4096, num_classes), all with biases")


@pytest.mark.points(3)
@pytest.mark.exercise("vgg")
@pytest.mark.confirmed_by("test_vgg16_features_match_reference")
def test_vgg_parameter_counts(student):
    """vgg16() has 138,357,544 and vgg19() 143,667,240 parameters (not the lecture's 110M); num_classes is respected"""
    for name, kwargs, expected in [("vgg16", {}, VGG16_PARAMS), ("vgg19", {}, VGG19_PARAMS),
                                   ("vgg16", {"num_classes": 10}, _vgg_params(CONFIGS["vgg16"], 10)),
                                   ("vgg19", {"num_classes": 7}, _vgg_params(CONFIGS["vgg19"], 7))]:
        _, info = _student_vgg(student, name, **kwargs)
        got = int(info["num_params"])
        if got != expected:
            fail(f"{_signature(name, (), kwargs)}: parameter count {got:,} ≠ {expected:,} "
                 f"(difference {got - expected:+,}).", _vgg_count_hint(name, got, kwargs.get("num_classes", 1000)))


def _check_layout(what: str, mine: list, expected: list, hint_for) -> None:
    """Compare state_dict layouts [(key, shape, dtype)]: keys, shapes, order."""
    assert_same_layout(what, mine, expected, hint_for,
                       "register features, avgpool, classifier in this order, and each layer's weight before its "
                       'bias')


def _vgg_layout_hint(name):
    def hint(missing, extra, wrong) -> str:
        if any(k.startswith("features.") and k.count(".") >= 3 for k in extra):
            return ("features is nested (keys like features.0.0.weight): it must be ONE flat nn.Sequential — "
                    "unpack each vgg_block's layers into it (nn.Sequential(*layers), layers.extend(block)), "
                    "don't put the blocks themselves in it")
        if any(k.startswith("classifier.") for k in missing + extra):
            return ("the classifier is Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear, so the Linear layers "
                    "sit at indices 0, 3 and 6: a missing ReLU or Dropout shifts them")
        if any(k.endswith(".bias") for k in missing) and not any(k.endswith(".weight") for k in missing):
            return "the layers need their biases (PyTorch's default bias=True), as in VGG and torchvision"
        if name == "vgg19" and missing and all(k.startswith("features.") for k in missing):
            return ("VGG19 (configuration E) has 2-2-4-4-4 convolutions per block, 16 in all; VGG16 has "
                    "2-2-3-3-3 — a block of n convs takes 2n + 1 indices (conv, ReLU pairs, then the pool)")
        if any(k.startswith("features.") for k in missing + extra):
            return ("features holds conv, ReLU, conv, ReLU, max-pool, … in one flat nn.Sequential: each conv is "
                    "followed by its ReLU and each block ends with its max-pool "
                    f"({'2-2-4-4-4' if name == 'vgg19' else '2-2-3-3-3'} convs per block)")
        if wrong:
            key = wrong[0][0]
            if key.startswith("classifier.0"):
                return "the first Linear takes 512 * 7 * 7 = 25,088 features (the 7x7 adaptive average pool's output)"
            if key.startswith("classifier.6"):
                return "the last Linear is Linear(4096, num_classes)"
            if key.startswith("classifier"):
                return "Linear(25088, 4096), Linear(4096, 4096), Linear(4096, num_classes)"
            return ("channels per block 64, 128, 256, 512, 512; the first conv of a block goes from the previous "
                    "block's width to the new one, the others keep it")
        return "keep torchvision's layout: features (flat), avgpool, classifier"
    return hint


@pytest.mark.points(3)
@pytest.mark.exercise("vgg")
@pytest.mark.confirmed_by("test_vgg16_features_match_reference")
def test_vgg_state_dict_layout(student, reference):
    """vgg16 and vgg19 keep torchvision's state_dict keys and shapes (one flat features Sequential, classifier 0/3/6)"""
    for name in ("vgg16", "vgg19"):
        _, info = _student_vgg(student, name)
        layout = [(k, tuple(s), d) for k, s, d in info["state_dict"]]
        ref_layout = [(k, tuple(s), d) for k, s, d in _ref_vgg_describe(reference, name)["state_dict"]]
        tv = _torchvision_layout(name)
        for source, expected in ([("torchvision", tv[1])] if tv else []) + [("reference", ref_layout)]:
            _check_layout(f"{name}() state_dict", layout, expected, _vgg_layout_hint(name))
        dtypes = [(k, d) for k, _, d in layout if d != "float32"]
        if dtypes:
            fail(f"{name}() state_dict: {dtypes[0][0]} has dtype {dtypes[0][1]}, torchvision's is float32.",
                 "build the model with the default dtype (float32)")
    num_classes = 10
    _, info = _student_vgg(student, "vgg16", num_classes=num_classes)
    shapes = {k: tuple(s) for k, s, _ in info["state_dict"]}
    if shapes.get("classifier.6.weight") != (num_classes, 4096):
        fail(f"vgg16(num_classes={num_classes}): classifier.6.weight has shape "
             f"{shapes.get('classifier.6.weight')}, expected ({num_classes}, 4096).",
             "pass num_classes on to the last Linear layer: Linear(4096, num_classes)")


@pytest.mark.points(2)
@pytest.mark.exercise("vgg")
@pytest.mark.confirmed_by("test_vgg16_features_match_reference")
def test_vgg_structure(student, reference):
    """features: conv/ReLU/max-pool in torchvision's order; avgpool adaptive 7x7; classifier with ReLU and Dropout(0.5)"""
    for name in ("vgg16", "vgg19"):
        model, info = _student_vgg(student, name)
        children = [n for n, _ in info["children"]]
        if children != ["features", "avgpool", "classifier"]:
            assert_equal(f"{name}() children (submodules in order)", children, ["features", "avgpool", "classifier"],
                         hint="torchvision's names: self.features, self.avgpool, self.classifier, in this order")
        features = _student_call(f"{name}().features", "", getattr, model, "features")
        types = [t for _, t in describe(features)["children"]]
        expected = []
        for n, _ in CONFIGS[name]:
            expected += _block_types(n)
        if types != expected:
            if "Sequential" in types:
                hint = ("features is nested: it must be ONE flat nn.Sequential holding the blocks' layers, "
                        "not a Sequential of vgg_blocks")
            elif types.count("Conv2d") != expected.count("Conv2d"):
                hint = (f"{name.upper()} has {expected.count('Conv2d')} 3x3 convs: "
                        f"{'-'.join(str(n) for n, _ in CONFIGS[name])} per block")
            elif "ReLU" not in types:
                hint = "a ReLU follows every 3x3 convolution (as its own layer, so the indices match torchvision's)"
            elif "MaxPool2d" not in types:
                hint = "each block ends with a 2x2 max-pool with stride 2 (nn.MaxPool2d), not another kind of pooling"
            else:
                hint = "each conv followed by its ReLU, each block ending with a 2x2 max-pool"
            assert_equal(f"{name}().features layer types", types, expected, hint=hint)
        avgpool = _student_call(f"{name}().avgpool", "", getattr, model, "avgpool")
        pool_info = describe(avgpool)
        size = _student_call(f"{name}().avgpool.output_size", "", getattr, avgpool, "output_size") \
            if pool_info["type"] == "AdaptiveAvgPool2d" else None
        if pool_info["type"] != "AdaptiveAvgPool2d" or size not in (7, (7, 7), [7, 7]):
            fail(f"{name}().avgpool: expected AdaptiveAvgPool2d((7, 7)), got {pool_info['type']}"
                 f"{'' if size is None else f' with output_size {size!r}'}.",
                 "nn.AdaptiveAvgPool2d((7, 7)) gives 512×7×7 features for any input size, so the classifier "
                 "always gets 25,088 values")
        classifier = _student_call(f"{name}().classifier", "", getattr, model, "classifier")
        types = [t for _, t in describe(classifier)["children"]]
        ref_types = _ref_classifier_types(reference, name)
        if types != ref_types:
            if "Dropout" not in types:
                hint = "the fully connected layers use Dropout(p=0.5) after each of the first two ReLUs"
            elif "ReLU" not in types:
                hint = "a ReLU follows each of the first two Linear layers"
            else:
                hint = "Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear"
            assert_equal(f"{name}().classifier layer types", types, ref_types, hint=hint)
        for index in (2, 5):
            p = _student_call(f"{name}().classifier[{index}].p", "", getattr, classifier[index], "p")
            if p != 0.5:
                fail(f"{name}().classifier[{index}]: Dropout p = {p!r}, expected 0.5.",
                     "VGG's fully connected layers use Dropout(p=0.5) (torchvision's default dropout=0.5)")


def _ref_classifier_types(reference, name):
    def build():
        with torch.device("meta"):
            return [t for _, t in describe(getattr(reference, name)().classifier)["children"]]
    return _cached(("classifier-types", reference, name), build)


def _forward_error_hint(message: str) -> str:
    """The likely cause of an error raised by a VGG forward pass."""
    text = message.lower()
    if any(w in text for w in ("mat1 and mat2", "cannot be multiplied", "same reduction dim", "size mismatch")):
        return ("the adaptive average pool must come between features and the classifier: "
                "nn.AdaptiveAvgPool2d((7, 7)) makes any input size give 512×7×7 = 25,088 features")
    if "output size is too small" in text or "kernel size can't be greater" in text:
        return "the 3x3 convolutions need padding=1 to keep height and width (only the max-pools halve them)"
    if any(word in text for word in DEVICE_WORDS):
        return "create tensors on the input's device; never a hard-coded 'cpu'/'cuda'"
    return "forward is features → avgpool → torch.flatten(x, 1) → classifier"


@pytest.mark.points(2)
@pytest.mark.exercise("vgg")
def test_vgg_output_shapes_on_meta(student):
    """On the meta device, vgg16/vgg19 give (N, num_classes) for 224x224 and odd sizes (adaptive 7x7 pool)"""
    for name, kwargs, shape, out in [("vgg16", {"num_classes": 10}, (2, 3, 224, 224), (2, 10)),
                                     ("vgg19", {"num_classes": 7}, (1, 3, 97, 97), (1, 7)),
                                     ("vgg16", {}, (1, 3, 32, 32), (1, 1000)),
                                     ("vgg19", {}, (3, 3, 65, 131), (3, 1000))]:
        model, _ = _student_vgg(student, name, **kwargs)
        what = f"{_signature(name, (), kwargs)} on a meta input of shape {shape}"
        x = torch.empty(*shape, device="meta")
        try:
            got = model(x)
        except StudentRaised as err:
            if err.type_name == "NotImplementedError":
                raise
            fail(f"{what}: your code raised {err.type_name}: {err.message}" +
                 (f"\n{err.traceback}" if err.traceback else ""), _forward_error_hint(err.message))
        assert_tensor(what, got, shape=out, device="meta",
                      hint="forward is features → avgpool → torch.flatten(x, 1) → classifier; the last Linear has "
                           "num_classes outputs")
    model, _ = _student_vgg(student, "vgg16")
    features = _student_call("vgg16().features", "", getattr, model, "features")
    for shape, out in [((1, 3, 224, 224), (1, 512, 7, 7)), ((2, 3, 97, 97), (2, 512, 3, 3))]:
        what = f"vgg16().features on a meta input of shape {shape}"
        got = _run_meta(lambda: features(torch.empty(*shape, device="meta")), what,
                        "create tensors on the input's device")
        assert_tensor(what, got, shape=out, device="meta",
                      hint="five blocks, each ending with a 2x2/2 max-pool: height and width are halved 5 times "
                           "(224 → 7); the 3x3 convs keep them (padding=1)")


def _features_state_dict(name):
    """Test weights for the features of ``name``, by torchvision's keys, made once.

    Each conv weight is a strided view of a short random vector (filter o = base[o : o + 9·C_in], He-scaled):
    a few kilobytes to send instead of VGG16's 59 MB of feature weights, and still a different filter per output
    channel. ``load_state_dict`` copies them into ordinary parameters on both sides.
    """
    def build():
        g = torch.Generator().manual_seed(3)
        sd, index, cin = {}, 0, 3
        for n, c in CONFIGS[name]:
            for _ in range(n):
                fan_in = 9 * cin
                base = torch.randn(c + fan_in - 1, generator=g) * (2.0 / fan_in) ** 0.5
                sd[f"{index}.weight"] = base.as_strided((c, cin, 3, 3), (1, 9, 3, 1))
                sd[f"{index}.bias"] = torch.randn(c, generator=g) * 0.05
                index, cin = index + 2, c
            index += 1
        return sd
    return _cached(("features-sd", name), build)


def _ref_features(reference, name, device):
    def build():
        with torch.device("meta"):
            ref = getattr(reference, name)(num_classes=10).features
        ref = ref.to_empty(device=device)
        ref.load_state_dict(_features_state_dict(name))
        return ref.eval()
    return _cached(("ref-features", reference, name, device), build)


def _features_inputs(device):
    def build():
        g = torch.Generator().manual_seed(11)
        return [torch.randn(1, 3, 32, 32, generator=g).to(device), torch.randn(1, 3, 35, 33, generator=g).to(device)]
    return _cached(("features-inputs", device), build)


def _tolerance(device):
    # CUDA convolutions may use TF32 on either side: compare more loosely there.
    return {"atol": 1e-5, "rtol": 1e-4} if device == "cpu" else {"atol": 3e-3, "rtol": 3e-3}


def _student_features(student, name):
    """(features of the student's <name>(num_classes=10) on CPU with the test weights, how they were loaded)."""
    def build():
        model = _build_vgg(student, name, num_classes=10)
        features = _student_call(f"{name}().features", "name the convolutional part self.features", getattr, model,
                                 "features")
        _student_call(f"{name}().features.to_empty(device='cpu')", "", features.to_empty, device="cpu")
        sd = _features_state_dict(name)
        layout = state_dict_layout(features)
        if [k for k, _, _ in layout] == list(sd):
            how = "by name"
        elif [tuple(s) for _, s, _ in layout] == [tuple(t.shape) for t in sd.values()]:
            how = "by shape, in registration order"
            sd = {key: tensor for (key, _, _), tensor in zip(layout, sd.values())}
        else:
            fail(f"{name}().features: its parameters do not line up with torchvision's, by name or by shape "
                 f"({len(sd)} entries expected, {len(layout)} came; first entries "
                 f"{[(k, tuple(s)) for k, s, _ in layout][:3]}).",
                 "13 convs 3→64→64→128→128→256→…→512, each with weight and bias (see the state_dict test)")
        _student_call(f"loading weights into {name}().features", "", features.load_state_dict, sd)
        features.eval()
        return features, how
    return _student_cached(student, ("features-cpu", name), build)


@pytest.mark.points(3)
@pytest.mark.exercise("vgg")
def test_vgg16_features_match_reference(student, reference, device):
    """vgg16().features computes torchvision's function: same weights, same output (1x3x32x32, 1x3x35x33)"""
    ref = _ref_features(reference, "vgg16", device)
    features, how = _student_features(student, "vgg16")
    features.to(device)
    for x in _features_inputs(device):
        label = "x".join(str(s) for s in x.shape)
        expected = _cached(("features-out", reference, device, label), lambda: _no_grad(ref, x))
        what = f"vgg16().features on a {label} input (test weights loaded {how})"
        try:
            got = features(x)
        except StudentRaised as err:
            if err.type_name == "NotImplementedError":
                raise
            fail(f"{what}: your code raised {err.type_name}: {err.message}" +
                 (f"\n{err.traceback}" if err.traceback else ""), _forward_error_hint(err.message))
        assert_same_output(got, expected, what,
                           hint="13 × (3x3 conv padding 1 → ReLU) with a 2x2/2 max-pool after convs 2, 4, 7, 10 and "
                                "13, convs 3→64→…→512 in torchvision's order; if the vgg_block tests fail, fix "
                                "vgg_block first",
                           **_tolerance(device))


def _no_grad(module, x):
    with torch.no_grad():
        return module(x)
