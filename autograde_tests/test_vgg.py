"""Hidden tests for the VGG assignment (conv_params, stacked_conv_params, receptive_field,
empirical_receptive_field, vgg_block, vgg16/vgg19).

Expected numbers are computed here, in the trusted process (k·k·C_in·C_out, the receptive-field recursion
r += (k − 1)·j, j *= s), or taken from the reference solution and torchvision's committed layout. The models
handed to the student's empirical_receptive_field are built inside the sandbox from the notebook's own
torch.nn, then given weights made here with a fixed seed, so the measurement does not depend on the student's
vgg_block. Whole VGGs are only built on the meta device; the forward comparison materialises `features` alone.
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from grader.checks import (
    DEVICE_WORDS, FLOAT64, REFERENCE, TORCHVISION, CheckFailed, ResultCache, assert_equal, assert_same_dtypes,
    assert_same_layout, assert_same_output, assert_tensor, build_seeded, call, call_on, cause_of_all,
    close, count_failure, describe, explained, fail, generator, layout_of, load_weights, matching_variant,
    measure,
    on_meta, param_count, passes_through, randn, randomise_batchnorm, signature, state_dict_layout, tolerance,
    torchvision_model)
from grader.checks.composite import PartBroken, RemotePart, carried_forward, fix_part_first, note, weights_for
from grader.i18n import N_, messages
from grader.sandbox.client import StudentRaised

_, _n = messages("vgg")

VGG16_PARAMS, VGG19_PARAMS = 138_357_544, 143_667_240
CONFIGS = {"vgg16": [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)],
           "vgg19": [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]}
INT_HINT = N_("return a Python int (integer arithmetic: no /, math.pow or torch tensors)")
INT_SIDE_HINT = N_("return the side of the region as a Python int (e.g. int(...))")

_cache = ResultCache()
_cached, _student_cached = _cache.once, _cache.per_submission


def _require_int(what: str, got, expected: int, hint: str) -> int:
    if isinstance(got, bool) or not isinstance(got, int):
        shown = got if not isinstance(got, torch.Tensor) else f"tensor {got.tolist()!r}"
        fail(_("{what}: expected the int {expected:,}, got {shown!r} ({type_name}).",
               what=what, expected=expected, shown=shown, type_name=type(got).__name__), hint)
    return got


def _loaded(how: str) -> str:
    """How the test weights were loaded (``load_weights`` answers "by name" or "by shape"), to be shown."""
    return {"by name": _("by name"), "by shape": _("by shape"),
            "by shape, in registration order": _("by shape, in registration order")}.get(how, how)


def _int_cases(fn, name, cases, expected_of):
    """Each (args, kwargs) case: (what, args, kwargs, the student's int, the expected int)."""
    for args, kwargs in cases:
        what = signature(name, args, kwargs)
        expected = expected_of(*args, **kwargs)
        got = _require_int(what, call(what, fn, *args, **kwargs), expected, _(INT_HINT))
        yield what, args, kwargs, got, expected


# ------------------------------ 1. conv_params --------------------------------------------------
@pytest.mark.points(2)
@pytest.mark.exercise("conv_params")
def test_conv_params(student):
    """conv_params counts k·k·C_in·C_out weights (3x3x128x128 = 147,456), + C_out biases only if bias=True"""
    cases = [((3, 128, 128), {}), ((5, 128, 128), {}), ((1, 128, 32), {}), ((3, 64, 128), {}),
             ((7, 3, 64), {}),
             ((2, 5, 7), {}), ((11, 3, 96), {"bias": False}), ((3, 128, 128), {"bias": True}),
             ((3, 3, 64), {"bias": True}), ((1, 192, 64), {"bias": True}), ((3, 1, 1), {"bias": True}),
             ((3, 16, 32, True), {}), ((5, 12, 20, False), {})]
    for what, (k, cin, cout, *rest), kwargs, got, expected in _int_cases(
            student.conv_params, "conv_params", cases,
            lambda k, i, o, bias=False: k * k * i * o + (o if bias else 0)):
        bias = kwargs.get("bias", rest[0] if rest else False)
        diff = got - expected
        counts = {"what": what, "got": got, "expected": expected}
        if not bias and diff == cout:
            fail(_("{what}: parameter count {got:,} ≠ {expected:,}: the difference is {cout} biases — the "
                   "lecture's count uses bias=False.", **counts, cout=cout),
                 _("count the biases only when bias=True (the default is bias=False, unlike nn.Conv2d's)"))
        if bias and diff == -cout:
            fail(_("{what}: parameter count {got:,} ≠ {expected:,}: the {cout} biases are missing.",
                   **counts, cout=cout),
                 _("with bias=True every output channel adds one bias: + C_out"))
        if bias and diff == cin - cout and diff:
            fail(_("{what}: parameter count {got:,} ≠ {expected:,}: you added {cin} biases (one per input "
                   "channel).", **counts, cin=cin),
                 _("there is one bias per output channel (per filter): + C_out, not + C_in"))
        b = cout if bias else 0
        causes = {**{g: _("multiply the channels, don't add them: k·k·C_in·C_out")
                     for g in (k * k * (cin + cout), 2 * k * k * cin * cout)},
                  **{g: _("one k×k×C_in filter per output channel: k·k·C_in·C_out")
                     for g in (k * k * cin, k * k * cout, k * k * cin + b)},
                  **{g: _("a k×k kernel has k·k weights per (input, output) channel pair: k², not k")
                     for g in (k * cin * cout, k * cin * cout + b)}}
        if diff:
            weights = {"k": k, "cin": cin, "cout": cout, "weights": k * k * cin * cout}
            count_failure(what, got, expected, causes.get(got) or (
                _("{k}·{k}·{cin}·{cout} = {weights:,} weights, + {cout} biases", **weights) if bias else
                _("{k}·{k}·{cin}·{cout} = {weights:,} weights, no bias", **weights)))


# ------------------------------ 2. stacked_conv_params ------------------------------------------
@pytest.mark.points(2)
@pytest.mark.exercise("stacked_conv_params")
def test_stacked_conv_params(student):
    """Two 3x3 convs 128→128 cost 294,912 parameters, one 5x5 409,600 (and other kernels, widths, depths)"""
    cases = [((3, 128, 2), {}), ((5, 128, 1), {}), ((3, 128, 3), {}), ((7, 128, 1), {}), ((3, 64, 4), {}),
             ((1, 32, 5), {}), ((3, 128, 2), {"bias": True}), ((5, 16, 3), {"bias": True}),
             ((3, 7, 2), {"bias": False}), ((3, 10, 0), {}), ((3, 8, 2, True), {})]
    for what, (k, c, d, *rest), kwargs, got, expected in _int_cases(
            student.stacked_conv_params, "stacked_conv_params", cases,
            lambda k, c, d, bias=False: d * (k * k * c * c + (c if bias else 0))):
        bias = kwargs.get("bias", rest[0] if rest else False)
        one, diff = k * k * c * c + (c if bias else 0), got - expected
        counts = {"what": what, "got": got, "expected": expected, "depth": d, "channels": c}
        if not bias and diff == d * c and d:
            fail(_("{what}: parameter count {got:,} ≠ {expected:,}: the difference is {depth}×{channels} "
                   "biases — the lecture's count uses bias=False.", **counts),
                 _("count biases only when bias=True: pass bias on to conv_params (its default is "
                   "bias=False)"))
        if bias and diff == -d * c and d:
            fail(_("{what}: parameter count {got:,} ≠ {expected:,}: the {depth}×{channels} biases are "
                   "missing.", **counts),
                 _("with bias=True each of the depth convolutions has channels biases: pass bias=bias to "
                   "conv_params"))
        if bias and diff == c - d * c and diff:
            fail(_("{what}: parameter count {got:,} ≠ {expected:,}: only one convolution's {channels} biases "
                   "are counted.", **counts),
                 _("every one of the depth convolutions has its own channels biases"))
        causes = {**{g: _("stacking does not make one bigger kernel: depth separate k×k convolutions, "
                          "depth · k·k·C·C (the whole point of 3x3 stacks)")
                     for g in (k * k * d * d * c * c, (k * d) ** 2 * c * c)},
                  **({one: _("depth is the number of stacked convolutions: multiply one convolution's count "
                             "by depth")} if d != 1 else {}),
                  **{g: _("each convolution is channels → channels, so it has k·k·C·C weights: channels "
                          "appears twice (C_in = C_out = channels), then times depth")
                     for g in (k * k * c * d, k * k * c * d + (d * c if bias else 0))}}
        if diff:
            count_failure(what, got, expected, causes.get(got) or _(
                "depth × conv_params(kernel_size, channels, channels, bias) = {depth} × {one:,}",
                depth=d, one=one))


# ------------------------------ 3. receptive_field ----------------------------------------------
def _rf(kernels, strides=None) -> int:
    """The receptive-field recursion, computed here: r += (k − 1)·j, then j *= s."""
    r, j = 1, 1
    for k, s in zip(kernels, strides or [1] * len(kernels)):
        r, j = r + (k - 1) * j, j * s
    return r


def _rf_own_stride_first(kernels, strides=None) -> int:
    r, j = 1, 1
    for k, s in zip(kernels, strides or [1] * len(kernels)):
        j *= s
        r += (k - 1) * j
    return r


def _rf_output_to_input(kernels, strides=None) -> int:
    r = 1
    for k, s in zip(kernels, strides or [1] * len(kernels)):
        r = (r - 1) * s + k
    return r


# Typical wrong receptive-field formulas, their causes: the one reproducing every wrong answer is named.
WRONG_RECEPTIVE_FIELDS = [
    (lambda kernels, strides=None: 1 + sum(k - 1 for k in kernels),
     N_("the strides are ignored: after a stride-s layer every later step covers s times more input pixels — "
        "keep the jump j (j *= s after each layer) and add (k − 1)·j")),
    (_rf_own_stride_first, N_("a layer's stride only affects the layers after it: add (k − 1)·j with the "
                              "jump of the layers before, then update j *= s")),
    (_rf_output_to_input, N_("r = (r − 1)·s + k is the recursion from the output back to the input: walk the "
                             "layers in reverse order for it, or go forward with r += (k − 1)·j, j *= s")),
    (lambda kernels, strides=None: sum(kernels),
     N_("r starts at 1 (one pixel) and each layer adds k − 1, not k: [3, 3] → 1 + 2 + 2 = 5")),
]
RF_RULE = N_("r_0 = 1, j_0 = 1; for each layer r += (k − 1)·j, then j *= s")
VGG16_STACK = [k for n, _ in CONFIGS["vgg16"] for k in [3] * n + [2]], [s for n, _ in CONFIGS["vgg16"]
                                                                       for s in [1] * n + [2]]
ALEXNET_STACK = [11, 3, 5, 3, 3, 3, 3, 3], [4, 2, 1, 2, 1, 1, 1, 2]


@pytest.mark.points(3)
@pytest.mark.exercise("receptive_field")
def test_receptive_field(student):
    """receptive_field: 3x3 stacks grow by 2 per layer ([3,3] → 5), strides multiply every later step"""
    cases = [(([3, 3],), {}), (([3, 3, 3],), {}), (([5],), {}), (([],), {}), (([1, 1, 1],), {}),
             (((3, 3, 3, 3),), {}), (([7],), {"strides": None}), (([3, 3],), {"strides": [1, 1]}),
             (([3, 3],), {"strides": [2, 2]}), (([11],), {"strides": [4]}),
             (([7, 3, 3],), {"strides": [2, 1, 1]}),
             (([3, 2, 3, 2],), {"strides": (1, 2, 1, 2)}), (([3, 3, 2, 3], [1, 1, 2, 1]), {}),
             ((ALEXNET_STACK[0],), {"strides": ALEXNET_STACK[1]}),
             ((VGG16_STACK[0],), {"strides": VGG16_STACK[1]})]
    names = {id(ALEXNET_STACK[0]): _("receptive_field of AlexNet's features (kernels 11,3,5,3,3,3,3,3, "
                                     "strides 4,2,1,2,1,1,1,2)"),
             id(VGG16_STACK[0]): _("receptive_field of VGG16's features (13 3x3 convs, 5 2x2/2 max-pools)")}
    wrong = []   # (what, (kernels, strides), got, expected) of every case that differs
    for args, kwargs in cases:
        kernels, strides = list(args[0]), kwargs.get("strides", args[1] if len(args) > 1 else None)
        strides = None if strides is None else list(strides)
        what = names.get(id(args[0]), signature("receptive_field", args, kwargs))
        got = _require_int(what, call(what, student.receptive_field, *args, **kwargs,
                                      hint=_("strides=None means stride 1 for every layer")),
                           _rf(kernels, strides), _("return a Python int (a side length in input pixels)"))
        if got != _rf(kernels, strides):
            wrong.append((what, (kernels, strides), got, _rf(kernels, strides)))
    if wrong:
        causes = [(formula, _(cause)) for formula, cause in WRONG_RECEPTIVE_FIELDS]
        hint = cause_of_all([(stack, answer) for _what, stack, answer, _expected in wrong], causes) or (
            _("no layer: each value sees exactly one pixel, r = 1; {rule}", rule=_(RF_RULE))
            if any(not stack[0] for _what, stack, _got, _expected in wrong) else _(RF_RULE))
        what, _stack, got, expected = wrong[0]
        answer = {"what": what, "expected": expected, "got": got}
        fail(_("{what}: expected {expected:,}, got {got:,} ({wrong} of {cases} cases are wrong).", **answer,
               wrong=len(wrong), cases=len(cases)) if len(wrong) > 1 else
             _("{what}: expected {expected:,}, got {got:,}.", **answer), hint)


# ------------------------------ 4. empirical_receptive_field ------------------------------------
# layer specs: ("conv", in, out, k, stride, padding), ("relu",), ("pool", k, stride), ("bn", channels).
# A case's English name also seeds its weights and keys the cache: translate it only where it is shown.
RF_STRIDE1 = [
    (N_("two 3x3 convs with a ReLU between"), 1,
     [("conv", 1, 8, 3, 1, 1), ("relu",), ("conv", 8, 8, 3, 1, 1)], None),
    (N_("three 3x3 convs on a 15x15 input (4 input channels)"), 4,
     [("conv", 4, 8, 3, 1, 1), ("relu",), ("conv", 8, 8, 3, 1, 1), ("relu",), ("conv", 8, 8, 3, 1, 1)], 15),
    (N_("one 5x5 conv (2 input channels) on a 17x17 input"), 2, [("conv", 2, 8, 5, 1, 2)], 17),
    (N_("one 7x7 conv (3 input channels) on a 21x21 input"), 3, [("conv", 3, 8, 7, 1, 3)], 21),
    (N_("a 3x3 conv without padding (output smaller than the input)"), 1, [("conv", 1, 4, 3, 1, 0)], None),
]
RF_STRIDED = [
    (N_("two 3x3 convs with stride 2 (3 input channels)"), 3, [("conv", 3, 8, 3, 2, 1), ("relu",),
                                                                ("conv", 8, 8, 3, 2, 1)], None),
    (N_("two 3x3 convs, ReLUs, then a 2x2/2 max-pool (a VGG block)"), 4,
     [("conv", 4, 8, 3, 1, 1), ("relu",), ("conv", 8, 8, 3, 1, 1), ("relu",), ("pool", 2, 2)], None),
    (N_("5x5 conv, 2x2/2 max-pool, 3x3 conv"), 2, [("conv", 2, 8, 5, 1, 2), ("relu",), ("pool", 2, 2),
                                                   ("conv", 8, 8, 3, 1, 1)], None),
    (N_("7x7 stride 2, 7x7 stride 2, 7x7 on a 57x57 input"), 1,
     [("conv", 1, 8, 7, 2, 3), ("relu",), ("conv", 8, 8, 7, 2, 3), ("relu",), ("conv", 8, 8, 7, 1, 3)], 57),
]
RF_BN = (N_("3x3 conv, BatchNorm, ReLU, 3x3 conv"), 3,
         [("conv", 3, 8, 3, 1, 1), ("bn", 8), ("relu",), ("conv", 8, 8, 3, 1, 1)], None)


def _spec_rf(spec) -> int:
    return _rf([it[3] if it[0] == "conv" else it[1] if it[0] == "pool" else 1 for it in spec],
               [it[4] if it[0] == "conv" else it[2] if it[0] == "pool" else 1 for it in spec])


def _build_spec(make, spec):
    """nn.Sequential from a spec; ``make(name, *args)`` builds one torch.nn class (here or in the sandbox)."""
    layers = {"conv": lambda _, cin, cout, k, s, p: make("Conv2d", cin, cout, k, stride=s, padding=p),
              "relu": lambda _: make("ReLU"), "pool": lambda _, k, s: make("MaxPool2d", k, s),
              "bn": lambda _, c: make("BatchNorm2d", c)}
    return make("Sequential", *[layers[item[0]](*item) for item in spec])


def _local_model(name, spec):
    """The model with its test weights (fixed seed, BN statistics randomised), built here once."""
    return _cached(("rf-model", name), lambda: randomise_batchnorm(build_seeded(
        lambda: _build_spec(lambda cls, *a, **kw: getattr(torch.nn, cls)(*a, **kw), spec),
        sum(map(ord, name))), 7))


def _remote_model(student, name, spec, device: str, train: bool = False):
    """The same model built in the sandbox with the notebook's torch.nn, carrying the weights made here."""
    def nn_namespace():
        try:
            return student.nn
        except StudentRaised:
            try:
                return student.torch.nn
            except StudentRaised:
                fail(_("the notebook's setup cell (import torch, torch.nn as nn) did not run: `nn` is not "
                       "defined."),
                     _("keep the locked setup cell as it was released"))
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
    return _cached(("rf-reference", name, device), lambda: reference.empirical_receptive_field(
        copy.deepcopy(_local_model(name, spec)).to(device).eval(), in_channels, size or 33))


def _rf_hint(got: int, expected: int, size) -> str:
    """The likely mistake behind a wrong measured receptive field."""
    if got == (size or 33) and expected < (size or 33):
        return _("every input pixel got a non-zero gradient: backpropagate the centre output pixel only "
                 "(out[:, :, H // 2, W // 2].sum()), not the whole output")
    if size and size > 33 and got <= 33 < expected:
        return _("the region is clipped at the border: make the input size × size (here {size}), not a fixed "
                 "33", size=size)
    if got == 0:
        return _("no non-zero gradient was found: did the gradient reach the input (requires_grad=True on "
                 "x)?")
    if got < expected:
        return _("a smaller region than the formula: take the centre of the output, out[..., out.shape[-2] "
                 "// 2, out.shape[-1] // 2] (a corner pixel's field is cut off by the border); and for one "
                 "input, inactive ReLUs and max-pooling block some paths — combine the gradients of a batch "
                 "of random inputs (e.g. 16); measure last non-zero row − first non-zero row + 1")
    return _("measure the extent of the non-zero gradient: last non-zero row − first non-zero row + 1 (after "
             "summing |grad| over batch and channels)")


def _check_rf_case(student, reference, name, in_channels, spec, size, device="cpu"):
    expected = _spec_rf(spec)
    model = _remote_model(student, name, spec, device, train=True)
    sized = f", size={size}" if size else ""
    what = (_("empirical_receptive_field on {model}{size}", model=_(name), size=sized) if device == "cpu" else
            _("empirical_receptive_field on {model}{size} (model on {device})", model=_(name), size=sized,
              device=device))
    got = call(what, student.empirical_receptive_field, model, in_channels,
               **({"size": size} if size else {}),
               hint=_("take the centre of the model's *output* (out.shape[-2] // 2, out.shape[-1] // 2), and "
                      "make the input (N, in_channels, size, size) on the model's device"))
    got = _require_int(what, got, expected, _(INT_SIDE_HINT))
    # GPU convolution algorithms may leave round-off where the exact gradient is zero: accept the reference's
    if got != expected and (device == "cpu" or
                            got != _reference_measure(reference, name, spec, in_channels, size, device)):
        fail(_("{what}: expected a receptive field of {expected} (formula r += (k − 1)·j), measured {got}.",
               what=what, expected=expected, got=got),
             _rf_hint(got, expected, size))


@pytest.mark.points(2)
@pytest.mark.exercise("empirical_receptive_field")
def test_empirical_receptive_field_stride_one(student, reference):
    """Measured receptive field of stride-1 conv stacks equals the formula (two, three 3x3 convs, 5x5, 7x7)"""
    for name, in_channels, spec, size in RF_STRIDE1:
        _check_rf_case(student, reference, name, in_channels, spec, size)


@pytest.mark.points(3)
@pytest.mark.exercise("empirical_receptive_field")
def test_empirical_receptive_field_strides_and_pools(student, reference, device):
    """Measured receptive field through strided convs and max-pools is the formula's, on the model's device"""
    for name, in_channels, spec, size in RF_STRIDED:
        _check_rf_case(student, reference, name, in_channels, spec, size, device)


@pytest.mark.points(2)
@pytest.mark.exercise("empirical_receptive_field")
def test_empirical_receptive_field_leaves_model_alone(student):
    """empirical_receptive_field measures in eval mode, then restores the model's mode; state unchanged"""
    name, in_channels, spec, size = RF_BN
    expected, before = _spec_rf(spec), _local_model(name, spec).state_dict()
    for train in (False, True):
        model = _remote_model(student, name, spec, "cpu", train=train)
        what = (_("empirical_receptive_field on a model in training mode ({model})", model=_(name))
                if train else _("empirical_receptive_field on a model in eval mode ({model})", model=_(name)))
        got = _require_int(what, call(what, student.empirical_receptive_field, model, in_channels), expected,
                           _(INT_SIDE_HINT))
        if got != expected:
            fail(_("{what}: expected {expected}, measured {got}.", what=what, expected=expected, got=got),
                 _("BatchNorm in training mode normalises with statistics of the whole batch and every "
                   "pixel, so every input pixel seems to matter: measure with model.eval(), then put the "
                   "model back in the mode it was in")
                 if got == 33 and train else _rf_hint(got, expected, size))
        info = describe(model)
        if info["training"] is not train:
            fail(_("{what}: the model was in training mode before the call and in eval mode after it.",
                   what=what) if train else
                 _("{what}: the model was in eval mode before the call and in training mode after it.",
                   what=what),
                 _("remember model.training before switching to eval(), and call model.train(was_training) "
                   "afterwards (a try/finally keeps it even if something fails)"))
        after = model.state_dict()
        changed = [key for key, value in before.items()
                   if key not in after or not torch.equal(after[key].cpu(), value)]
        if changed:
            keys = ", ".join(changed[:4]) + (" …" if len(changed) > 4 else "")
            fail(_("{what}: the call changed the model's state: {keys}.", what=what, keys=keys),
                 _("a forward pass in training mode updates BatchNorm's running statistics: run the "
                   "measurement in eval mode")
                 if all("running" in k or "num_batches" in k for k in changed) else
                 _("measure, don't modify: no re-initialising, fill_ or optimizer steps on the model's "
                   "weights"))


# ------------------------------ 5. vgg_block ----------------------------------------------------
def _block_types(n: int) -> list[str]:
    return ["Conv2d", "ReLU"] * n + ["MaxPool2d"]


def _block_types_hint(types: list[str], n: int) -> str:
    """The likely cause of a vgg_block whose layer types are not num_convs × (Conv2d, ReLU), MaxPool2d."""
    if "ReLU" not in types:
        return _("a ReLU follows every 3x3 convolution (nn.ReLU(inplace=True)): the stack's extra "
                 "non-linearity")
    if "MaxPool2d" not in types:
        return _("the block ends with a 2x2 max-pool with stride 2 (nn.MaxPool2d(kernel_size=2, stride=2))")
    if types.count("Conv2d") != n:
        return _("num_convs={n} convolutions, each followed by its ReLU", n=n)
    return _("conv, ReLU, conv, ReLU, …, then the max-pool last, as separate layers of one nn.Sequential")


@pytest.mark.points(2)
@pytest.mark.exercise("vgg_block")
@pytest.mark.confirmed_by("test_vgg_block_matches_reference")
def test_vgg_block_layers(student, reference):
    """vgg_block: nn.Sequential of num_convs × (3x3 conv, ReLU), then a max-pool; biased convs in → out"""
    for cin, cout, n in [(64, 128, 2), (3, 64, 2), (256, 512, 3), (512, 512, 4), (5, 7, 1)]:
        what = signature("vgg_block", (cin, cout, n))
        block = on_meta(_("{call} built on the meta device", call=what),
                        lambda: call_on("meta", student.vgg_block, cin, cout, n),
                        _("build the layers from the arguments only; no tensors on a fixed device"),
                        "function")
        info = describe(block)
        if "Sequential" not in info["mro"]:
            fail(_("{what}: expected an nn.Sequential, got a {type}.", what=what, type=info["type"]),
                 _("return nn.Sequential(*layers), so its layers can be unpacked into VGG's flat features"))
        types = [t for _, t in info["children"]]
        if types != _block_types(n):
            assert_equal(_("{what}: layer types", what=what), types, _block_types(n),
                         hint=_block_types_hint(types, n))
        expected = (9 * cin * cout + cout) + (n - 1) * (9 * cout * cout + cout)
        got = int(info["num_params"])
        if got != expected:
            count_failure(what, got, expected, {
                n * (9 * cin * cout + cout): _("only the first convolution goes in_channels → out_channels; "
                                               "the others are out → out"),
                expected - n * cout: _("the convolutions have no bias: VGG's (and torchvision's) 3x3 convs "
                                       "keep PyTorch's default bias=True (the difference is {n}×{cout} "
                                       "biases)", n=n, cout=cout),
            }.get(got) or _("3x3 convs {cin}→{cout}, then {more} × {cout}→{cout}, each with {cout} biases "
                            "(check the kernel size: 3x3)", cin=cin, cout=cout, more=n - 1))
        layout = layout_of(info)
        ref_layout = _cached(("block-layout", cin, cout, n), lambda: state_dict_layout(
            call_on("meta", reference.vgg_block, cin, cout, n)))
        if layout != ref_layout:
            fail(_("{what}: state_dict entries {entries} … differ from the expected {expected} ….", what=what,
                   entries=[(k, s) for k, s, _ in layout][:4],
                   expected=[(k, s) for k, s, _ in ref_layout][:4]),
                 _("indices 0, 2, 4, … hold the convs (weight (out, in, 3, 3) and bias), the ReLUs and the "
                   "pool have no parameters"))


def _block_variants(ref, x):
    convs = [m for m in ref if isinstance(m, torch.nn.Conv2d)]
    no_relu, relu = x, x
    for conv in convs:
        no_relu, relu = conv(no_relu), F.relu(conv(relu))
    return [(F.max_pool2d(no_relu, 2), _("the ReLU after each 3x3 convolution is missing")),
            (F.avg_pool2d(relu, 2), _("that is average pooling: VGG uses a 2x2 max-pool with stride 2")),
            (F.max_pool2d(F.relu(no_relu), 2), _("the ReLUs between the convolutions are missing (only the "
                                                 "last conv is followed by one)"))]


@pytest.mark.points(3)
@pytest.mark.exercise("vgg_block")
def test_vgg_block_matches_reference(student, reference, device):
    """vgg_block is (conv 3x3 pad 1 → ReLU) × n → 2x2 max-pool: the reference's output, odd sizes too"""
    for (cin, cout, n), shape, seed in [((4, 6, 2), (2, 4, 9, 9), 0), ((5, 5, 3), (1, 5, 8, 7), 1),
                                        ((3, 8, 1), (1, 3, 6, 11), 2)]:
        def build():
            ref = build_seeded(lambda: reference.vgg_block(cin, cout, n), seed).double().to(device).eval()
            x = randn(*shape, seed=seed + 1, dtype=torch.float64, device=device)
            with torch.no_grad():
                return ref, x, ref(x)
        ref, x, expected = _cached(("block-case", cin, cout, n, shape, device, seed), build)
        what = _("{call} on an input of shape {shape}", call=signature("vgg_block", (cin, cout, n)),
                 shape=shape)
        mine = call(what, student.vgg_block, cin, cout, n)
        mine.double()
        mine.to(device)
        mine.eval()
        try:
            how = load_weights(mine, ref)
        except CheckFailed:
            layout = state_dict_layout(mine)
            if len(layout) < len(ref.state_dict()) and not any(k.endswith("bias") for k, _, _ in layout):
                fail(_("{what}: the reference's weights cannot be loaded: your convolutions have no bias "
                       "({entries} state_dict entries, the reference has {reference_entries}).",
                       what=what, entries=len(layout), reference_entries=len(ref.state_dict())),
                     _("VGG's 3x3 convolutions have biases: keep nn.Conv2d's default bias=True"))
            raise
        got = call(what, mine, x)
        assert_tensor(what, got, hint=_("the block returns the pooled feature map"))
        h, w = shape[2:]
        if tuple(got.shape) != tuple(expected.shape):
            sizes = {(h, w): _("the 2x2 max-pool with stride 2 at the end is missing: it halves height and "
                               "width"),
                     ((h - 2 * n) // 2, (w - 2 * n) // 2): _("the 3x3 convolutions need padding=1 to keep "
                                                             "height and width (only the pool halves them)"),
                     (h - 1, w - 1): _("the max-pool needs stride 2 (nn.MaxPool2d(kernel_size=2, stride=2)): "
                                       "it halves H and W")}
            hint = (sizes.get(tuple(got.shape[2:])) if got.dim() == 4 else None) or (
                _("the block's output has out_channels channels") if got.dim() == 4 and got.shape[1] != cout
                else _("3x3 convs with padding 1 keep H×W; the 2x2/2 max-pool halves them, rounding down"))
            assert_tensor(what, got, shape=expected.shape, hint=hint)
        with torch.no_grad():
            diag = "" if torch.allclose(got.double().cpu(), expected.double().cpu(), **FLOAT64) else \
                matching_variant(got, _block_variants(ref, x))
        assert_same_output(got, expected, _("{what} (float64, reference weights loaded {how})", what=what,
                                            how=_loaded(how)), **FLOAT64,
                           hint=diag or _("num_convs × (Conv2d 3x3 padding 1, ReLU), then MaxPool2d(2, 2), "
                                          "in this order"))


# ------------------------------ 6. vgg16 / vgg19 ------------------------------------------------
def _vgg_params(cfg, num_classes=1000, conv_bias=True, fc_in=512 * 7 * 7) -> int:
    total, cin = 0, 3
    for n, c in cfg:
        for _conv in range(n):
            total += 9 * cin * c + (c if conv_bias else 0)
            cin = c
    return total + fc_in * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * num_classes + num_classes


def _blocks_of(name) -> list[tuple[int, int, int]]:
    """(in_channels, out_channels, num_convs) of each vgg_block the reference wiring of ``name`` builds."""
    out, cin = [], 3
    for n, c in CONFIGS[name]:
        out.append((cin, c, n))
        cin = c
    return out


def _features_given_blocks(student, name) -> tuple[int, list, list[str]]:
    """(count, layout, layer types) of one flat features built from the student's own vgg_block (on meta)."""
    def build():
        count, layout, types = 0, [], []
        for args in _blocks_of(name):
            info = describe(on_meta(_("{call} built on meta", call=signature("vgg_block", args)),
                                    lambda: call_on("meta", student.vgg_block, *args),
                                    _("build the layers from the arguments only"), "function"))
            count += int(info["num_params"])
            layout += [(_shifted(k, len(types)), s, d) for k, s, d in layout_of(info)]
            types += [t for _, t in info["children"]]
        return count, layout, types
    return _student_cached(student, ("features-given", name), build)


def _blocks_chain_on_meta(student, name, shape) -> tuple:
    """The output shape of a chain of the student's own vgg_block built with the reference wiring's arguments,
    on meta; fails naming vgg_block where one of them does not run on the input the chain gives it."""
    x = torch.empty(*shape, device="meta")
    for i, args in enumerate(_blocks_of(name)):
        block = call_on("meta", student.vgg_block, *args)
        try:
            x = RemotePart(block, _("features (block {number})", number=i + 1), "vgg_block", torch.float32)(x)
        except PartBroken as broken:
            fix_part_first(f"{name}()", broken)
    return tuple(x.shape)


def _shifted(key: str, offset: int) -> str:
    index, _dot, rest = key.partition(".")
    return f"{int(index) + offset}.{rest}"


def _features_count(name) -> int:
    return sum(9 * cin * c + c + (n - 1) * (9 * c * c + c) for cin, c, n in _blocks_of(name))


def _build_vgg(student, name, **kwargs):
    return on_meta(_("{call} built on the meta device", call=signature(name, (), kwargs)),
                   lambda: call_on("meta", getattr(student, name), **kwargs),
                   _("build every layer from the arguments; nothing on a fixed device (no .to('cpu'), no "
                     "device='cpu' tensors)"), "function")


def _student_vgg(student, name, **kwargs):
    """(model on meta, describe(model)), once per submission."""
    def build():
        model = _build_vgg(student, name, **kwargs)
        return model, describe(model)
    return _student_cached(student, ("vgg", name, tuple(sorted(kwargs.items()))), build)


def _vgg_count_hint(name, got, num_classes) -> str:
    cfg, other = CONFIGS[name], "vgg16" if name == "vgg19" else "vgg19"
    causes = {
        _vgg_params(cfg, num_classes, fc_in=512): _(
            "the first Linear sees 512 features: after the 7x7 adaptive average pool the feature map is "
            "512×7×7 = 25,088 values, so it is Linear(512 * 7 * 7, 4096)"),
        _vgg_params(cfg, num_classes, conv_bias=False): _(
            "the convolutions have no bias: VGG's 3x3 convs have biases (PyTorch's default)"),
        **({_vgg_params(cfg, 1000): _("num_classes is ignored: the last Linear layer is Linear(4096, "
                                      "num_classes)")}
           if num_classes != 1000 else {}),
        _vgg_params(CONFIGS[other], num_classes): _(
            "that is {other}'s count: {model} has {convs} 3x3 convs per block (configuration "
            "{configuration})", other=other.upper(), model=name.upper(),
            convs="2-2-4-4-4" if name == "vgg19" else "2-2-3-3-3",
            configuration="E" if name == "vgg19" else "D")}
    return causes.get(got) or _(
        "{convs} biased 3x3 convs ({per_block} per block, {channels} channels) + Linear(25088, 4096), "
        "Linear(4096, 4096), Linear(4096, num_classes), all with biases",
        convs=sum(n for n, _width in cfg), per_block="-".join(str(n) for n, _width in cfg),
        channels=", ".join(str(width) for _count, width in cfg))  # no `_n` here: Babel reads it as ngettext


@pytest.mark.points(3)
@pytest.mark.exercise("vgg")
@pytest.mark.confirmed_by("test_vgg16_features_match_reference")
def test_vgg_parameter_counts(student):
    """vgg16() has 138,357,544 and vgg19() 143,667,240 parameters (not the lecture's 110M); num_classes"""
    for name, kwargs, expected in [("vgg16", {}, VGG16_PARAMS), ("vgg19", {}, VGG19_PARAMS),
                                   ("vgg16", {"num_classes": 10}, _vgg_params(CONFIGS["vgg16"], 10)),
                                   ("vgg19", {"num_classes": 7}, _vgg_params(CONFIGS["vgg19"], 7))]:
        got = int(_student_vgg(student, name, **kwargs)[1]["num_params"])
        given = expected - _features_count(name) + _features_given_blocks(student, name)[0]
        if got != expected and got == given:
            note(carried_forward(f"{name}()", ["vgg_block"], _("parameter count")))
        elif got != expected:
            count_failure(signature(name, (), kwargs), got, expected,
                          _vgg_count_hint(name, got, kwargs.get("num_classes", 1000)))


def _vgg_layout_hint(name):
    def hint(missing, extra, wrong) -> str:
        if any(k.startswith("features.") and k.count(".") >= 3 for k in extra):
            return _("features is nested (keys like features.0.0.weight): it must be ONE flat nn.Sequential "
                     "— unpack each vgg_block's layers into it (nn.Sequential(*layers), "
                     "layers.extend(block)), don't put the blocks themselves in it")
        if any(k.startswith("classifier.") for k in missing + extra):
            return _("the classifier is Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear, so the Linear "
                     "layers sit at indices 0, 3 and 6: a missing ReLU or Dropout shifts them")
        if any(k.endswith(".bias") for k in missing) and not any(k.endswith(".weight") for k in missing):
            return _("the layers need their biases (PyTorch's default bias=True), as in VGG and torchvision")
        if name == "vgg19" and missing and all(k.startswith("features.") for k in missing):
            return _("VGG19 (configuration E) has 2-2-4-4-4 convolutions per block, 16 in all; VGG16 has "
                     "2-2-3-3-3 — a block of n convs takes 2n + 1 indices (conv, ReLU pairs, then the pool)")
        if any(k.startswith("features.") for k in missing + extra):
            return _("features holds conv, ReLU, conv, ReLU, max-pool, … in one flat nn.Sequential: each "
                     "conv is followed by its ReLU and each block ends with its max-pool ({convs} convs per "
                     "block)",
                     convs="2-2-4-4-4" if name == "vgg19" else "2-2-3-3-3")
        key = wrong[0][0] if wrong else None
        if key is None:
            return _("keep torchvision's layout: features (flat), avgpool, classifier")
        if key.startswith("classifier.0"):
            return _("the first Linear takes 512 * 7 * 7 = 25,088 features (the 7x7 adaptive average pool's "
                     "output)")
        if key.startswith("classifier.6"):
            return _("the last Linear is Linear(4096, num_classes)")
        if key.startswith("classifier"):
            return _("Linear(25088, 4096), Linear(4096, 4096), Linear(4096, num_classes)")
        return _("channels per block 64, 128, 256, 512, 512; the first conv of a block goes from the "
                 "previous block's width to the new one, the others keep it")
    return hint


@pytest.mark.points(3)
@pytest.mark.exercise("vgg")
@pytest.mark.confirmed_by("test_vgg16_features_match_reference")
def test_vgg_state_dict_layout(student, reference):
    """vgg16 and vgg19 keep torchvision's state_dict keys and shapes (one flat features, classifier 0/3/6)"""
    for name in ("vgg16", "vgg19"):
        layout = layout_of(_student_vgg(student, name)[1])
        ref_layout = _cached(("vgg-layout", name),
                             lambda: state_dict_layout(call_on("meta", getattr(reference, name))))
        tv = torchvision_model(name)
        given = [e for e in ref_layout if not e[0].startswith("features.")]
        given[:0] = [(f"features.{k}", sh, d) for k, sh, d in _features_given_blocks(student, name)[1]]
        if layout != ref_layout and layout == given:
            note(carried_forward(f"{name}()", ["vgg_block"], "state_dict"))
            continue
        for expected, against in ([(tv[1], TORCHVISION)] if tv else []) + [(ref_layout, REFERENCE)]:
            assert_same_layout(f"{name}() state_dict", layout, expected, _vgg_layout_hint(name),
                               _("register features, avgpool, classifier in this order, and each layer's "
                                 "weight before its bias"), against)
        assert_same_dtypes(f"{name}() state_dict", layout, ref_layout,
                           _("build the model with the default dtype (float32)"), "float32")
    shapes = {k: s for k, s, _ in layout_of(_student_vgg(student, "vgg16", num_classes=10)[1])}
    if shapes.get("classifier.6.weight") != (10, 4096):
        fail(_("vgg16(num_classes=10): classifier.6.weight has shape {shape}, expected (10, 4096).",
               shape=shapes.get("classifier.6.weight")),
             _("pass num_classes on to the last Linear layer: Linear(4096, num_classes)"))


def _features_types_hint(name: str, types: list[str], expected: list[str]) -> str:
    """The likely cause of a VGG features whose layer types are not torchvision's."""
    if "Sequential" in types:
        return _("features is nested: it must be ONE flat nn.Sequential holding the blocks' layers, not a "
                 "Sequential of vgg_blocks")
    if types.count("Conv2d") != expected.count("Conv2d"):
        return _("{model} has {convs} 3x3 convs: {per_block} per block", model=name.upper(),
                 convs=expected.count("Conv2d"), per_block="-".join(str(n) for n, _c in CONFIGS[name]))
    if "ReLU" not in types:
        return _("a ReLU follows every 3x3 convolution (as its own layer, so the indices match "
                 "torchvision's)")
    if "MaxPool2d" not in types:
        return _("each block ends with a 2x2 max-pool with stride 2 (nn.MaxPool2d), not another kind of "
                 "pooling")
    return _("each conv followed by its ReLU, each block ending with a 2x2 max-pool")


@pytest.mark.points(2)
@pytest.mark.exercise("vgg")
@pytest.mark.confirmed_by("test_vgg16_features_match_reference")
def test_vgg_structure(student, reference):
    """features: conv/ReLU/max-pool in torchvision's order; adaptive 7x7 avgpool; classifier, Dropout(0.5)"""
    for name in ("vgg16", "vgg19"):
        model, info = _student_vgg(student, name)
        children = [n for n, _ in info["children"]]
        assert_equal(_("{model}() children (submodules in order)", model=name), children,
                     ["features", "avgpool", "classifier"],
                     hint=_("torchvision's names: self.features, self.avgpool, self.classifier, in this "
                            "order"))
        types = [t for _, t in describe(call(f"{name}().features", getattr, model, "features"))["children"]]
        expected = [t for n, _ in CONFIGS[name] for t in _block_types(n)]
        if types != expected and types == _features_given_blocks(student, name)[2]:
            note(carried_forward(f"{name}().features", ["vgg_block"], _("layers")))
        elif types != expected:
            assert_equal(_("{model}().features layer types", model=name), types, expected,
                         hint=_features_types_hint(name, types, expected))
        avgpool = call(f"{name}().avgpool", getattr, model, "avgpool")
        kind = describe(avgpool)["type"]
        size = call(f"{name}().avgpool.output_size", getattr, avgpool, "output_size") \
            if kind == "AdaptiveAvgPool2d" else None
        if kind != "AdaptiveAvgPool2d" or size not in (7, (7, 7), [7, 7]):
            fail(_("{model}().avgpool: expected AdaptiveAvgPool2d((7, 7)), got {kind}.", model=name,
                   kind=kind) if size is None else
                 _("{model}().avgpool: expected AdaptiveAvgPool2d((7, 7)), got {kind} with output_size "
                   "{size!r}.", model=name, kind=kind, size=size),
                 _("nn.AdaptiveAvgPool2d((7, 7)) gives 512×7×7 features for any input size, so the "
                   "classifier always gets 25,088 values"))
        classifier = call(f"{name}().classifier", getattr, model, "classifier")
        types = [t for _, t in describe(classifier)["children"]]
        ref_types = _cached(("classifier-types", name), lambda: [t for _, t in describe(
            call_on("meta", getattr(reference, name)).classifier)["children"]])
        if types != ref_types:
            assert_equal(_("{model}().classifier layer types", model=name), types, ref_types, hint=(
                _("the fully connected layers use Dropout(p=0.5) after each of the first two ReLUs")
                if "Dropout" not in types else _("a ReLU follows each of the first two Linear layers")
                if "ReLU" not in types else _("Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear")))
        for index in (2, 5):
            p = call(f"{name}().classifier[{index}].p", getattr, classifier[index], "p")
            if p != 0.5:
                fail(_("{model}().classifier[{index}]: Dropout p = {p!r}, expected 0.5.",
                       model=name, index=index, p=p),
                     _("VGG's fully connected layers use Dropout(p=0.5) (torchvision's default dropout=0.5)"))


def _forward_cause(err: StudentRaised) -> str:
    """The likely cause of an error raised by a VGG forward pass."""
    text = err.message.lower()
    if any(w in text for w in ("mat1 and mat2", "cannot be multiplied", "same reduction dim",
                               "size mismatch")):
        return _("the adaptive average pool must come between features and the classifier: "
                 "nn.AdaptiveAvgPool2d((7, 7)) makes any input size give 512×7×7 = 25,088 features")
    if "output size is too small" in text or "kernel size can't be greater" in text:
        return _("the 3x3 convolutions need padding=1 to keep height and width (only the max-pools halve "
                 "them)")
    if any(word in text for word in DEVICE_WORDS):
        return _("create tensors on the input's device; never a hard-coded 'cpu'/'cuda'")
    return _("forward is features → avgpool → torch.flatten(x, 1) → classifier")


@pytest.mark.points(2)
@pytest.mark.exercise("vgg")
def test_vgg_output_shapes_on_meta(student):
    """On the meta device, vgg16/vgg19 give (N, num_classes) for 224x224 and odd sizes (adaptive 7x7 pool)"""
    for name, kwargs, shape, out in [("vgg16", {"num_classes": 10}, (2, 3, 224, 224), (2, 10)),
                                     ("vgg19", {"num_classes": 7}, (1, 3, 97, 97), (1, 7)),
                                     ("vgg16", {}, (1, 3, 32, 32), (1, 1000)),
                                     ("vgg19", {}, (3, 3, 65, 131), (3, 1000))]:
        model, _info = _student_vgg(student, name, **kwargs)
        what = _("{call} on a meta input of shape {shape}", call=signature(name, (), kwargs), shape=shape)
        with explained(what, explain=_forward_cause):
            try:
                got = model(torch.empty(*shape, device="meta"))
            except StudentRaised as err:
                if not passes_through(err):
                    _blocks_chain_on_meta(student, name, shape)   # names vgg_block where it does not run
                raise
        assert_tensor(what, got, shape=out, device="meta",
                      hint=_("forward is features → avgpool → torch.flatten(x, 1) → classifier; the last "
                             "Linear has num_classes outputs"))
    features = call("vgg16().features", getattr, _student_vgg(student, "vgg16")[0], "features")
    for shape, out in [((1, 3, 224, 224), (1, 512, 7, 7)), ((2, 3, 97, 97), (2, 512, 3, 3))]:
        what = _("{call} on a meta input of shape {shape}", call="vgg16().features", shape=shape)
        got = on_meta(what, lambda: features(torch.empty(*shape, device="meta")),
                      _("create tensors on the input's device"), "function")
        given = _blocks_chain_on_meta(student, "vgg16", shape)
        if isinstance(got, torch.Tensor) and tuple(got.shape) != out and tuple(got.shape) == given:
            note(carried_forward("vgg16().features", ["vgg_block"], _("output shape")))
            continue
        assert_tensor(what, got, shape=out, device="meta",
                      hint=_("five blocks, each ending with a 2x2/2 max-pool: height and width are halved 5 "
                             "times (224 → 7); the 3x3 convs keep them (padding=1)"))


def _features_state_dict(name):
    """Test weights for the features of ``name``, by torchvision's keys, made once.

    Each conv weight is a strided view of a short random vector (filter o = base[o : o + 9·C_in], He-scaled):
    a few kilobytes to send instead of VGG16's 59 MB of feature weights, and still a different filter per
    output channel. ``load_state_dict`` copies them into ordinary parameters on both sides.
    """
    def build():
        g, sd, index, cin = generator(3), {}, 0, 3
        for n, c in CONFIGS[name]:
            for _conv in range(n):
                fan_in = 9 * cin
                base = torch.randn(c + fan_in - 1, generator=g) * (2.0 / fan_in) ** 0.5
                sd[f"{index}.weight"] = base.as_strided((c, cin, 3, 3), (1, 9, 3, 1))
                sd[f"{index}.bias"] = torch.randn(c, generator=g) * 0.05
                index, cin = index + 2, c
            index += 1
        return sd
    return _cached(("features-sd", name), build)


def _student_features(student, name):
    """(features of the student's <name>(num_classes=10) on CPU with the test weights, how loaded)."""
    def build():
        features = call(f"{name}().features", getattr, _build_vgg(student, name, num_classes=10), "features",
                        hint=_("name the convolutional part self.features"))
        call(f"{name}().features.to_empty(device='cpu')", features.to_empty, device="cpu")
        sd, layout = _features_state_dict(name), state_dict_layout(features)
        try:
            how = call(_("loading weights into {model}().features", model=name), load_weights, features, sd)
        except CheckFailed:
            fail(_("{model}().features: its parameters do not line up with torchvision's, by name or by "
                   "shape ({expected} entries expected, {came} came; first entries {first}).", model=name,
                   expected=len(sd), came=len(layout), first=[(k, tuple(s)) for k, s, _ in layout][:3]),
                 _("13 convs 3→64→64→128→128→256→…→512, each with weight and bias (see the state_dict test)"))
        features.eval()
        how = "by shape, in registration order" if how == "by shape" else how
        return features, how
    return _student_cached(student, ("features-cpu", name), build)


def _given_blocks(student, name, device, x):
    """(the student's features, a chain of its own vgg_block built with the reference wiring's arguments), the
    same weights per block, on ``x``; None for the first where its layers are not that chain's."""
    features = call(f"{name}().features", getattr, _build_vgg(student, name, num_classes=10), "features")
    features.to_empty(device=device)
    sd, blocks, weights, out, start, offset = _features_state_dict(name), [], {}, x, 0, 0
    for i, args in enumerate(_blocks_of(name)):
        block = call_on("meta", student.vgg_block, *args).to_empty(device=device).eval()
        size = 2 * args[2] + 1
        ref_sd = {_shifted(k, -start): v for k, v in sd.items()
                  if start <= int(k.split(".")[0]) < start + size}
        loaded = weights_for(block, ref_sd, 20 + i, x.dtype)
        weights.update({_shifted(k, offset): v for k, v in loaded.items()})
        try:
            with torch.no_grad():
                part = RemotePart(block, _("features (block {number})", number=i + 1), "vgg_block", x.dtype)
                out = part(out)
        except PartBroken as broken:
            fix_part_first(f"{name}().features", broken)
        start, offset = start + size, offset + len(block)
    try:
        features.load_state_dict(weights)
        return features.eval()(x), out
    except StudentRaised as err:
        if passes_through(err):
            raise
        return None, out


@pytest.mark.points(3)
@pytest.mark.exercise("vgg")
def test_vgg16_features_match_reference(student, reference, device):
    """vgg16().features computes torchvision's function: same weights, same output (1x3x32x32, 1x3x35x33)"""
    def reference_features():
        ref = call_on("meta", reference.vgg16, num_classes=10).features.to_empty(device=device)
        ref.load_state_dict(_features_state_dict("vgg16"))
        g = generator(11)
        inputs = [torch.randn(1, 3, 32, 32, generator=g).to(device),
                  torch.randn(1, 3, 35, 33, generator=g).to(device)]
        with torch.no_grad():
            return [(x, ref.eval()(x)) for x in inputs]
    try:
        features, how = _student_features(student, "vgg16")
        features.to(device)
    except CheckFailed as err:
        features, how, unloaded = None, "", err
    for x, expected in _cached(("features-out", device), reference_features):
        label = "x".join(str(s) for s in x.shape)
        what = _("vgg16().features on a {size} input (test weights loaded {how})", size=label,
                 how=_loaded(how))
        got, err = None, None
        try:
            got = features(x) if features is not None else None
        except StudentRaised as raised:
            if passes_through(raised):
                raise
            err = raised
        if not close(got, expected, **tolerance(device)):
            with explained(_("{what}, given your vgg_block", what=what)):
                mine, given = _given_blocks(student, "vgg16", device, x)
            if close(mine, given, **tolerance(device)):
                note(carried_forward("VGG16", ["vgg_block"], _("output")))
                continue
            if features is None:
                raise unloaded
            with explained(what, explain=_forward_cause):
                if err is not None:
                    raise err
        assert_same_output(got, expected, what, **tolerance(device),
                           hint=_("13 × (3x3 conv padding 1 → ReLU) with a 2x2/2 max-pool after convs 2, 4, "
                                  "7, 10 and 13, convs 3→64→…→512 in torchvision's order"))
