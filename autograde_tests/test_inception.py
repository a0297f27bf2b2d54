"""Hidden tests for the GoogLeNet assignment (bottleneck_params, pointwise_conv, Inception, GoogLeNet, quiz).

Expected numbers are exact counts of the paper's network (Szegedy et al. 2014, Table 1: biased convolutions,
ReLU, a true 5x5, no BatchNorm, no auxiliary classifiers). Inception comparisons run in float64 against the
reference with its weights loaded into the student's module. Whole GoogLeNets are counted and shaped on
the meta device; the one real forward pass (num_classes=10, a 1x3x64x64 input) uses sparse integer weights:
they travel as int8, every value is exact in float32 on the CPU (float64 on a GPU), and five of the ten logits
each read a single pooled feature, which makes dropout's mask and scale readable in training mode.
"""
from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader.checks import (
    FLOAT64, CheckFailed, ResultCache, assert_equal, assert_same_output, assert_tensor, build_seeded,
    call_keeping_inputs, call_on, calls_in_source, close, count_failure, describe, exercise_source, fail,
    functions_called, generator, matching_variant, not_implemented, on_meta, passes_through, randn, signature,
    with_reference_weights)
from grader.checks.composite import carried_forward, load_given_parts, note, outputs_given_parts
from grader.i18n import N_, messages
from grader.sandbox.client import StudentRaised

_, _n = messages("inception")


CONV_STATIC = {"conv2d", "conv1d", "conv3d", "convolution", "Conv2d", "_convolution"}
CONV_TRACED = {"conv2d", "conv1d", "convolution", "_convolution", "conv3d"}

# Table 1 rows: (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
TABLE1 = {
    "3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}
# exact parameter counts of the paper's block (+bias, true 5x5): reference-numbers.md, column "paper +bias"
TABLE1_PARAMS = {"3a": 163_696, "3b": 388_736, "4a": 376_176, "4e": 868_352, "5b": 1_444_080}

GOOGLENET_PARAMS = 6_998_552
GOOGLENET_10_PARAMS = GOOGLENET_PARAMS - 1024 * 990 - 990  # only the last linear layer depends on num_classes
GOOGLENET_NO_BIAS = 6_990_272
GOOGLENET_3X3 = GOOGLENET_PARAMS - sum(16 * r5 * c5 for _, _, _, _, r5, c5, _ in TABLE1.values())  # 6,617,624
GOOGLENET_TORCHVISION = 6_624_904   # BasicConv2d (BN, no bias) and the 3x3 in branch3
GOOGLENET_AUX = 13_378_280          # + the two auxiliary classifiers of the paper

BUG_906 = N_("a 3x3 where the paper has a 5x5 (torchvision's known bug, pytorch/vision#906)")
LOADED_HOW = (N_("by name"), N_("by shape"))   # what with_reference_weights returns: translated where shown


_cache = ResultCache()
_cached, _student_cached = _cache.once, _cache.per_submission


def _run_meta(fn, what: str, hint: str):
    """Run student code on the meta device; a device error becomes a failure that says so."""
    return on_meta(what, fn, hint, _("exercise"))


# ------------------------------ 1. bottleneck_params --------------------------------------------
def _bottleneck(c_in, red, out, k=3, bias=False) -> int:
    return c_in * red + k * k * red * out + ((red + out) if bias else 0)


def _bottleneck_hint(args: tuple, kwargs: dict, got) -> str:
    c_in, red, out = args[:3]
    k = args[3] if len(args) > 3 else kwargs.get("kernel_size", 3)
    bias = args[4] if len(args) > 4 else kwargs.get("bias", False)
    counts = dict(c_in=c_in, red=red, out=out, k=k)
    if got == k * k * red * out + ((out) if bias else 0):
        return _("the 1x1 layer is missing from your count: first a 1x1 conv {c_in} → {red} "
                 "(1·1·{c_in}·{red} weights, 채널 방향 차원 축소), then the {k}x{k} conv {red} → {out}", **counts)
    if got == k * k * c_in * out + ((out) if bias else 0):
        return _("that is one {k}x{k} conv straight from {c_in} to {out} channels, without the bottleneck: "
                 "the {k}x{k} conv reads only the {red} reduced channels", **counts)
    if not bias and got == _bottleneck(c_in, red, out, k, True):
        return _("you counted biases (+{red} + {out}) although bias=False: the lecture's count uses weights "
                 "only; add one bias per output channel of each conv only when bias=True", **counts)
    if bias and got == _bottleneck(c_in, red, out, k, False):
        return _("bias=True must add one bias per output channel of each conv: {red} (1x1 conv) + {out} "
                 "({k}x{k} conv)", **counts)
    if bias and got == _bottleneck(c_in, red, out, k, False) + out:
        return _("the 1x1 conv has biases too when bias=True: {red} of them, besides the {out} of the "
                 "{k}x{k} conv", **counts)
    if bias and got == _bottleneck(c_in, red, out, k, False) + red:
        return _("the {k}x{k} conv has biases too when bias=True: {out} of them, besides the {red} of the "
                 "1x1 conv", **counts)
    if k != 3 and got == _bottleneck(c_in, red, out, 3, bias):
        return _("use the kernel_size argument: a {k}x{k} kernel has {k}·{k} weights per input and output "
                 "channel", **counts)
    if got == c_in * red * k * k + k * k * red * out + ((red + out) if bias else 0):
        return _("the first layer is a 1x1 conv: 1·1·{c_in}·{red} weights, whatever kernel_size is", **counts)
    if bias:
        return _("1·1·{c_in}·{red} (1x1 conv) + {k}·{k}·{red}·{out} ({k}x{k} conv) + {red} + {out} (biases)",
                 **counts)
    return _("1·1·{c_in}·{red} (1x1 conv) + {k}·{k}·{red}·{out} ({k}x{k} conv), no biases", **counts)


def _check_bottleneck_cases(student, cases):
    bottleneck_params = student.bottleneck_params
    for args, kwargs in cases:
        expected = _bottleneck(*args, **{("k" if key == "kernel_size" else key): v
                                         for key, v in kwargs.items()})
        got = bottleneck_params(*args, **kwargs)
        what = signature("bottleneck_params", args, kwargs)
        not_an_int = dict(what=what, expected=expected, got=got, type_name=type(got).__name__)
        if isinstance(got, float) and float(got).is_integer() or isinstance(got, torch.Tensor):
            fail(_("{what}: expected the int {expected:,}, got {got!r} ({type_name}).", **not_an_int),
                 _("return an int (a count of weights), e.g. with integer arithmetic only (no / or "
                   "math.pow)"))
        if not isinstance(got, int) or isinstance(got, bool):
            fail(_("{what}: expected the int {expected:,}, got {got!r} ({type_name}).", **not_an_int),
                 _("return the number of parameters as an int"))
        if got != expected:
            assert_equal(what, got, expected, hint=_bottleneck_hint(args, kwargs, got))


@pytest.mark.points(2)
@pytest.mark.exercise("bottleneck_params")
def test_bottleneck_params_lecture(student):
    """bottleneck_params: 1x1 reduction then 3x3 conv, (128, 32, 128) has 40,960 weights (3.6x fewer)"""
    _check_bottleneck_cases(student, [
        ((128, 32, 128), {}), ((192, 96, 128), {}), ((256, 64, 256), {}), ((3, 1, 2), {}),
        ((480, 96, 208), {}),
    ])


@pytest.mark.points(2)
@pytest.mark.exercise("bottleneck_params")
def test_bottleneck_params_kernel_size_and_bias(student):
    """bottleneck_params with kernel_size=5 or 1 and bias=True (one bias per output channel of each conv)"""
    _check_bottleneck_cases(student, [
        ((192, 16, 32), {"kernel_size": 5}), ((832, 48, 128), {"kernel_size": 5}),
        ((64, 64, 64), {"kernel_size": 1}), ((128, 32, 128), {"bias": True}),
        ((192, 16, 32), {"kernel_size": 5, "bias": True}), ((192, 96, 128), {"kernel_size": 3, "bias": True}),
        ((10, 4, 6, 3, True), {}), ((7, 3, 5, 7), {"bias": True}), ((128, 32, 128), {"bias": False}),
    ])


# ------------------------------ 2. pointwise_conv -----------------------------------------------
def _pointwise_cases():
    g = generator(21)
    d = torch.float64
    return [
        (_("x (2, 6, 3, 5), weight (6, 6)  (a square weight)"), torch.randn(2, 6, 3, 5, generator=g, dtype=d),
         torch.randn(6, 6, generator=g, dtype=d)),
        ("x (2, 8, 5, 7), weight (4, 8)", torch.randn(2, 8, 5, 7, generator=g, dtype=d),
         torch.randn(4, 8, generator=g, dtype=d)),
        ("x (2, 8, 5, 7), weight (4, 8, 1, 1)", torch.randn(2, 8, 5, 7, generator=g, dtype=d),
         torch.randn(4, 8, 1, 1, generator=g, dtype=d)),
        (_("x (1, 16, 9, 11), weight (1, 16)  (batch 1, one output channel)"),
         torch.randn(1, 16, 9, 11, generator=g, dtype=d), torch.randn(1, 16, generator=g, dtype=d)),
        (_("x (3, 1, 4, 3), weight (6, 1, 1, 1)  (one input channel)"),
         torch.randn(3, 1, 4, 3, generator=g, dtype=d),
         torch.randn(6, 1, 1, 1, generator=g, dtype=d)),
        (_("x (1, 5, 1, 1), weight (3, 5, 1, 1)  (a 1x1 image)"),
         torch.randn(1, 5, 1, 1, generator=g, dtype=d), torch.randn(3, 5, 1, 1, generator=g, dtype=d)),
    ]


def _conv1x1(x, w):
    return F.conv2d(x, w.reshape(w.shape[0], w.shape[1], 1, 1))


@pytest.mark.points(3)
@pytest.mark.exercise("pointwise_conv")
def test_pointwise_conv_matches_conv2d(student, device):
    """pointwise_conv(x, W) equals F.conv2d with a 1x1 kernel, for (C_out, C_in) and (C_out, C_in, 1, 1) W"""
    pointwise_conv = student.pointwise_conv
    for case, x, w in _pointwise_cases():
        x, w = x.to(device), w.to(device)
        what = (_("pointwise_conv on {case}", case=case) if device == "cpu" else
                _("pointwise_conv on {case} on {device}", case=case, device=device))
        expected = _conv1x1(x, w)
        got = pointwise_conv(x, w)
        n, c_in, h, wd = x.shape
        c_out = w.shape[0]
        assert_tensor(what, got, hint=_("return one tensor of shape (N, C_out, H, W)"))
        if tuple(got.shape) != tuple(expected.shape):
            if tuple(got.shape) == (n, h, wd, c_out):
                hint = _("channels last: your result is (N, H, W, C_out); move the channels back to dim 1 "
                         "(permute)")
            elif got.numel() == expected.numel():
                hint = _("the right numbers of values but the wrong shape: the result is (N, C_out, H, W)")
            else:
                hint = _("each pixel's C_in-vector is multiplied by the (C_out, C_in) matrix: the output "
                         "keeps N, H and W and has C_out channels; accept both weight shapes (flatten a "
                         "(C_out, C_in, 1, 1) one)")
            assert_tensor(what, got, shape=expected.shape, hint=hint)
        assert_tensor(what, got, dtype=expected.dtype, device=device,
                      hint=_("compute in the input's dtype and on its device (no .float(), no new CPU "
                             "tensors)"))
        if not close(got, expected):
            w2 = w.reshape(c_out, c_in)
            if c_out == c_in and close(got, _conv1x1(x, w2.t().contiguous())):
                hint = _("you multiplied by Wᵀ: output channel o at a pixel is Σ_c W[o, c] · x[n, c, h, w], "
                         "e.g. torch.einsum('oc,nchw->nohw', W, x)")
            else:
                hint = _("a 1x1 convolution is the same (C_out, C_in) matrix applied to every pixel's "
                         "C_in-vector: out[n, :, h, w] = W @ x[n, :, h, w] (einsum 'oc,nchw->nohw', or move "
                         "channels last and use matmul)")
            assert_same_output(got, expected, what, **FLOAT64, hint=hint)


@pytest.mark.points(2)
@pytest.mark.exercise("pointwise_conv")
def test_pointwise_conv_keeps_dtype_device_and_inputs(student):
    """pointwise_conv keeps dtype (float32, float64) and device (meta too), leaves x and weight unchanged"""
    pointwise_conv = student.pointwise_conv
    g = generator(22)
    cases = [("float32 x (2, 4, 3, 5), weight (3, 4)", torch.randn(2, 4, 3, 5, generator=g),
              torch.randn(3, 4, generator=g)),
             ("float64 x (1, 3, 7, 2), weight (2, 3, 1, 1)", torch.randn(1, 3, 7, 2, generator=g).double(),
              torch.randn(2, 3, 1, 1, generator=g).double())]
    for case, x, w in cases:
        what = _("pointwise_conv on {case}", case=case)
        got, (x_after, w_after) = call_keeping_inputs(pointwise_conv, x.clone(), w.clone())
        expected = _conv1x1(x, w)
        assert_tensor(what, got, shape=expected.shape, hint=_("the result is (N, C_out, H, W)"))
        assert_tensor(what, got, dtype=x.dtype,
                      hint=_("keep the input's dtype: no .float() and no tensors created with the default "
                             "dtype"))
        if not torch.equal(x_after, x) or not torch.equal(w_after, w) or w_after.shape != w.shape:
            if not torch.equal(x_after, x):
                changed = _("{what}: your function changed x in place.", what=what)
            else:
                changed = _("{what}: your function changed the weight in place.", what=what)
            fail(changed, _("use out-of-place operations (reshape, flatten, permute, einsum return new "
                            "tensors); squeeze_(), mul_() or assigning into x modify the caller's tensor"))
        assert_same_output(got, expected, what, atol=1e-5 if x.dtype == torch.float32 else FLOAT64["atol"],
                           rtol=FLOAT64["rtol"],
                           hint=_("out[n, :, h, w] = W @ x[n, :, h, w] for every pixel (einsum "
                                  "'oc,nchw->nohw')"))
    for case, shape, wshape in [("meta x (2, 16, 9, 9), weight (8, 16)", (2, 16, 9, 9), (8, 16)),
                                ("meta x (1, 3, 5, 7), weight (4, 3, 1, 1)", (1, 3, 5, 7), (4, 3, 1, 1))]:
        what = _("pointwise_conv on a {case}", case=case)
        x, w = torch.empty(shape, device="meta"), torch.empty(wshape, device="meta")
        got = _run_meta(lambda: pointwise_conv(x, w), what,
                        _("create nothing on a fixed device: einsum/matmul of x and the weight stay on their "
                          "device"))
        assert_tensor(what, got, shape=(shape[0], wshape[0], shape[2], shape[3]), device="meta",
                      hint=_("the result must stay on the input's device (here meta): create no CPU tensors"))


@pytest.mark.points(2)
@pytest.mark.exercise("pointwise_conv")
def test_pointwise_conv_without_convolution(student, submission):
    """pointwise_conv is a per-pixel matrix product: no convolution call in the code or at run time"""
    source = exercise_source(submission, "pointwise_conv",
                             _("keep the exercise cells as they were released and write your code inside "
                               "them"))
    found = calls_in_source(source, CONV_STATIC)
    if found:
        fail(_("your pointwise_conv cell uses a convolution: {calls}.", calls=", ".join(found)),
             _("the exercise is to show that a 1x1 convolution is a matrix product: use torch.einsum or "
               "matmul on the channel dimension, not F.conv2d / nn.Conv2d"))
    g = generator(23)
    x, w = torch.randn(2, 6, 4, 5, generator=g), torch.randn(6, 6, 1, 1, generator=g)
    value, called = functions_called(student.pointwise_conv, (x, w), CONV_TRACED)
    if called:
        fail(_("while running, your pointwise_conv called a convolution: {calls}.", calls=", ".join(called)),
             _("a 1x1 convolution is the same matrix applied to every pixel: write it with einsum or matmul; "
               "no convolution, not even one reached indirectly (getattr, a helper, an nn.Conv2d module)"))
    assert_tensor("pointwise_conv(x (2, 6, 4, 5), weight (6, 6, 1, 1))", value, shape=(2, 6, 4, 5),
                  hint=_("the result is (N, C_out, H, W)"))


# ------------------------------ 3. Inception ----------------------------------------------------
def _inception_branches(args) -> list[int]:
    c_in, c1, r3, c3, r5, c5, pp = args
    return [c_in * c1 + c1, c_in * r3 + r3 + 9 * r3 * c3 + c3, c_in * r5 + r5 + 25 * r5 * c5 + c5,
            c_in * pp + pp]


def _inception_params(args) -> int:
    return sum(_inception_branches(args))


def _inception_cause(args, got: int) -> str:
    """The known mistake that gives a block ``got`` parameters, or ""."""
    c_in, c1, r3, c3, r5, c5, pp = args
    expected = _inception_params(args)
    biases = c1 + r3 + c3 + r5 + c5 + pp
    bug = 16 * r5 * c5
    no_reduction = expected - _inception_branches(args)[1] - _inception_branches(args)[2]
    known = {
        expected - biases: _("the convolutions have no bias: the paper's block uses biased convs (bias=True) "
                             "and no BatchNorm"),
        expected - bug: _("branch3 has {bug}: use nn.Conv2d(ch5x5red, ch5x5, kernel_size=5, padding=2)",
                          bug=_(BUG_906)),
        expected - bug - biases: _("no biases, and branch3 has {bug}; the paper's block has biased convs and "
                                   "a true 5x5", bug=_(BUG_906)),
        expected - bug + biases: _("that is torchvision's block (BatchNorm, no bias) with {bug}; the paper's "
                                   "block has biased convs, no BatchNorm and a true 5x5", bug=_(BUG_906)),
        expected + biases: _("BatchNorm layers (and convs without bias) as in torchvision's BasicConv2d: the "
                             "paper's block has biased convs each followed by a ReLU, no BatchNorm"),
        expected - (c_in * pp + pp): _("the pool branch has no projection: after the 3x3 max-pool comes a "
                                       "1x1 conv in_channels → pool_proj (with ReLU)"),
        no_reduction + 9 * c_in * c3 + c3 + 25 * c_in * c5 + c5: _(
            "the 1x1 reductions before the 3x3 and the 5x5 are missing (채널 방향 차원 축소): 1x1 in → "
            "#3x3 reduce, then 3x3; 1x1 in → #5x5 reduce, then 5x5"),
    }
    return known.get(got, "")


def _inception_formula(args) -> str:
    """The block's count, branch by branch."""
    c_in, c1, r3, c3, r5, c5, pp = args
    b = _inception_branches(args)
    return _("branch1 1x1 {c_in}→{c1}: {b1:,}; branch2 1x1 {c_in}→{r3} + 3x3 {r3}→{c3}: {b2:,}; branch3 "
             "1x1 {c_in}→{r5} + 5x5 {r5}→{c5}: {b3:,}; branch4 max-pool + 1x1 {c_in}→{pp}: {b4:,} "
             "(all convs biased)", c_in=c_in, c1=c1, r3=r3, c3=c3, r5=r5, c5=c5, pp=pp,
             b1=b[0], b2=b[1], b3=b[2], b4=b[3])


def _branch_counts(mine) -> list:
    counts = []
    for i in range(1, 5):
        try:
            counts.append(int(describe(getattr(mine, f"branch{i}"))["num_params"]))
        except (StudentRaised, KeyError, TypeError):
            counts.append(None)
    return counts


@pytest.mark.points(3)
@pytest.mark.exercise("inception")
@pytest.mark.confirmed_by("test_inception_matches_reference")
def test_inception_parameters(student):
    """Inception blocks 3a, 3b, 4a, 4e, 5b of Table 1 (3a: 163,696 parameters): biased convs, a true 5x5"""
    build = student.Inception
    for name, expected in TABLE1_PARAMS.items():
        args = TABLE1[name]
        what = f"Inception({name}) = {signature('Inception', args)}"
        mine = call_on("meta", build, *args)
        info = describe(mine)
        got = int(info["num_params"])
        if got != expected:
            hint = _inception_cause(args, got)
            branch_names = {n for n, _ in info["children"]}
            if not hint and {f"branch{i}" for i in range(1, 5)} <= branch_names:
                wrong = [(i + 1, g, e) for i, (g, e) in enumerate(zip(_branch_counts(mine),
                                                                      _inception_branches(args))) if g != e]
                if wrong:
                    branches = "; ".join(
                        _("branch{i} has {got:,} parameters, expected {expected:,}", i=i, got=g, expected=e)
                        if g is not None else _("branch{i} could not be measured", i=i) for i, g, e in wrong)
                    hint = _("{branches}. {formula}", branches=branches, formula=_inception_formula(args))
            count_failure(what, got, expected, hint or _inception_formula(args))


@pytest.mark.points(2)
@pytest.mark.exercise("inception")
def test_inception_branches(student):
    """Inception has modules branch1..branch4 and concatenates their outputs along channels in that order"""
    build = student.Inception
    for args, shape in [((8, 2, 3, 4, 2, 5, 6), (2, 8, 7, 5))]:
        what = signature("Inception", args)
        mine = build(*args)
        names = [n for n, _ in describe(mine)["children"]]
        missing = [f"branch{i}" for i in range(1, 5) if f"branch{i}" not in names]
        if missing:
            fail(_n("{what}: no submodule {missing} (its children are {names}).",
                    "{what}: no submodules {missing} (its children are {names}).", len(missing),
                    what=what, missing=", ".join(missing), names=names),
                 _("build the four branches as modules named branch1 (1x1), branch2 (1x1 → 3x3), branch3 "
                   "(1x1 → 5x5) and branch4 (max-pool → 1x1), e.g. self.branch1 = nn.Sequential(...)"))
        x = torch.randn(*shape, generator=generator(31))
        out = mine(x)
        on_input = _("{what} on an input of shape {shape}", what=what, shape=shape)
        assert_tensor(on_input, out, hint=_("forward returns one tensor"))
        parts = [getattr(mine, f"branch{i}")(x) for i in range(1, 5)]
        widths = [args[1], args[3], args[5], args[6]]
        for i, part in enumerate(parts, start=1):
            assert_tensor(_("{what}: branch{i}(x) for x of shape {shape}", what=what, i=i, shape=shape), part,
                          shape=(shape[0], widths[i - 1], shape[2], shape[3]),
                          hint=_("branch{i} alone returns {width} maps of the input's height and width",
                                 i=i, width=("ch1x1", "ch3x3", "ch5x5", "pool_proj")[i - 1]))
        assert_tensor(on_input, out, shape=(shape[0], sum(widths), shape[2], shape[3]),
                      hint=_("concatenate the four branches along the channels (dim=1)"))
        # the ReLU that ends each branch may sit inside the branch module or be applied in forward after it
        candidates = [parts, [F.relu(p) for p in parts]]

        def matches(order):
            return any(torch.allclose(out, torch.cat([c[i] for i in order], 1), atol=1e-5, rtol=1e-4)
                       for c in candidates)
        if not matches((0, 1, 2, 3)):
            order = next((perm for perm in itertools.permutations(range(4)) if matches(perm)), None)
            if order:
                hint = _("wrong concatenation order: yours is {order}; the paper's order is branch1, "
                         "branch2, branch3, branch4", order=", ".join(f"branch{i + 1}" for i in order))
            else:
                hint = _("forward must return torch.cat([branch1(x), branch2(x), branch3(x), branch4(x)], "
                         "dim=1)")
            fail(_("{what}: the output is not the concatenation of branch1(x) … branch4(x) along the "
                   "channels, in this order.", what=what), hint)


def _shape_hint(args, shape, got) -> str:
    c_in, c1, r3, c3, r5, c5, pp = args
    n, _channels, h, w = shape
    if len(got) != 4:
        return _("concatenate along dim=1 (channels): the output is (N, C, H, W)")
    if got[1] == c1 + c3 + c5 + c_in:
        return _("the pool branch has no projection: after the 3x3 max-pool comes a 1x1 conv in_channels → "
                 "pool_proj")
    if got[1] in (c3 + c5 + pp, c1 + c5 + pp, c1 + c3 + pp, c1 + c3 + c5):
        return _("a branch is missing from the concatenation: torch.cat of all four branches, dim=1")
    if got[0] != n or got[1] != c1 + c3 + c5 + pp:
        return _("concatenate the four branches along the channels (dim=1), not along the batch or the width")
    return _("every branch keeps height and width: padding 1 for the 3x3 conv, padding 2 for the 5x5, and "
             "the pool branch's max-pool is 3x3 with stride 1 and padding 1")


def _branch_sizes(mine, x, shape) -> list[str]:
    """'branch4 gives (3, 1)' for each branch whose height × width differs from the input's."""
    bad = []
    for i in range(1, 5):
        try:
            part = getattr(mine, f"branch{i}")(x)
        except StudentRaised:
            continue
        if isinstance(part, torch.Tensor) and part.dim() == 4 and tuple(part.shape[2:]) != tuple(shape[2:]):
            bad.append(_("branch{i} gives {size}", i=i, size=tuple(part.shape[2:])))
    return bad


def _wrong_sizes_hint(bad: list[str], shape, hint: str) -> str:
    return _("{branches} instead of {size}: {hint}", branches="; ".join(bad), size=shape[2:], hint=hint)


@pytest.mark.points(2)
@pytest.mark.exercise("inception")
def test_inception_output_shape(student):
    """Inception output: ch1x1+ch3x3+ch5x5+pool_proj channels, same H×W (odd sizes, batch 1, meta device)"""
    build = student.Inception
    cases = [((5, 1, 2, 3, 1, 2, 4), (1, 5, 3, 3)), ((16, 4, 6, 8, 3, 5, 4), (1, 16, 1, 1)),
             ((4, 3, 2, 2, 2, 3, 1), (3, 4, 9, 2))]
    for args, shape in cases:
        what = _("{what} on an input of shape {shape}", what=signature("Inception", args), shape=shape)
        mine = build(*args)
        x = torch.randn(*shape, generator=generator(32))
        expected = (shape[0], args[1] + args[3] + args[5] + args[6], shape[2], shape[3])
        try:
            out, (x_after,) = call_keeping_inputs(mine, x)
        except StudentRaised as err:
            bad = _branch_sizes(mine, x, shape)
            if not bad:
                raise
            fail(_("{what}: your forward raised {error_type}: {error}", what=what, error_type=err.type_name,
                   error=err.message),
                 _wrong_sizes_hint(bad, shape, _shape_hint(args, shape, expected)))
        assert_tensor(what, out, hint=_("forward returns one tensor: the four branches concatenated"))
        if tuple(out.shape) != expected:
            hint = _shape_hint(args, shape, tuple(out.shape))
            if out.dim() == 4 and out.shape[1] == expected[1]:
                bad = _branch_sizes(mine, x, shape)
                if bad:
                    hint = _wrong_sizes_hint(bad, shape, hint)
            assert_tensor(what, out, shape=expected, hint=hint)
        if not torch.equal(x_after, x):
            fail(_("{what}: your forward changed its input x in place.", what=what),
                 _("an in-place op (ReLU(inplace=True) or relu_) must act on a conv's output, never on x: "
                   "all four branches read the same x"))
    for name, size in [("3a", 28), ("5b", 7)]:
        args = TABLE1[name]
        what = _("Inception({name}) built on the meta device, input (1, {channels}, {size}, {size})",
                 name=name, channels=args[0], size=size)
        hint = _("create no tensors on a fixed device in __init__ or forward; let the layers follow the "
                 "input")
        mine = _run_meta(lambda: call_on("meta", build, *args), what, hint)
        out = _run_meta(lambda: mine(torch.empty(1, args[0], size, size, device="meta")), what, hint)
        assert_tensor(what, out, shape=(1, args[1] + args[3] + args[5] + args[6], size, size), device="meta",
                      hint=hint)


def _ref_inception(reference, args, shape, device, seed=0):
    """(reference block in float64 on device, input, output); computed once per worker."""
    def build():
        ref = build_seeded(lambda: reference.Inception(*args), seed).double().to(device).eval()
        x = randn(*shape, seed=seed + 1, dtype=torch.float64, device=device)
        with torch.no_grad():
            return ref, x, ref(x)
    return _cached(("inception", reference, args, shape, device, seed), build)


def _convs(module) -> list:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


@torch.no_grad()
def _inception_variants(ref, x, args):
    """(output, explanation) of plausible wrong blocks, computed with the reference's own layers; each
    explanation is a function that words it in the run's language (the outputs are cached across runs)."""
    b1, b2, b3, b4 = (getattr(ref, f"branch{i}") for i in range(1, 5))
    (k1,), (r3, k3), (r5, k5), (kp,) = _convs(b1), _convs(b2), _convs(b3), _convs(b4)
    relu = F.relu
    o = [b1(x), b2(x), b3(x), b4(x)]
    names = ["branch1", "branch2", "branch3", "branch4"]
    out = []
    for perm in itertools.permutations(range(4)):
        if perm != (0, 1, 2, 3):
            order = ", ".join(names[i] for i in perm)
            out.append((torch.cat([o[i] for i in perm], 1), lambda order=order: _(
                "wrong concatenation order: yours is {order}; the paper's (and the contract's) order is "
                "branch1 (1x1), branch2 (3x3), branch3 (5x5), branch4 (pool)", order=order)))
    b2_no_mid = relu(k3(r3(x)))
    b3_no_mid = relu(k5(r5(x)))
    out += [(torch.cat([o[0], b2_no_mid, o[2], o[3]], 1), lambda: _no_mid_relu("branch2")),
            (torch.cat([o[0], o[1], b3_no_mid, o[3]], 1), lambda: _no_mid_relu("branch3")),
            (torch.cat([o[0], b2_no_mid, b3_no_mid, o[3]], 1),
             lambda: _no_mid_relu(_("branch2 and branch3")))]
    pre = [k1(x), k3(relu(r3(x))), k5(relu(r5(x))), kp(F.max_pool2d(x, 3, 1, 1))]
    out.append((torch.cat(pre, 1),
                lambda: _("no ReLU at the end of the branches: each branch ends with conv → ReLU")))
    for i in range(4):
        parts = list(o)
        parts[i] = pre[i]
        out.append((torch.cat(parts, 1),
                    lambda branch=names[i]: _("the ReLU after the last conv of {branch} is missing",
                                              branch=branch)))
    out.append((torch.cat([o[0], o[1], o[2], relu(kp(F.avg_pool2d(x, 3, 1, 1)))], 1),
                lambda: _("the pool branch uses average pooling: the paper's pool branch is a 3x3 max-pool "
                          "(stride 1, padding 1), then the 1x1 pool projection")))
    out.append((torch.cat([o[0], o[1], o[2], relu(kp(x))], 1),
                lambda: _("the max-pool is missing from the pool branch: 3x3 max-pool (stride 1, padding 1), "
                          "then 1x1 conv")))
    return out


def _no_mid_relu(branches: str) -> str:
    return _("ReLU missing after the 1x1 reduce conv in {branches}: every conv is followed by a ReLU, the "
             "1x1 reduction too (it adds a non-linearity for free)", branches=branches)


def _worded(variants):
    """Cached (output, explanation function) pairs as matching_variant takes them: worded now."""
    return [(out, explain()) for out, explain in variants]


def _layout_mismatch(what: str, mine: list, expected: list, extra_hint: str = "") -> None:
    """Explain why the reference's state_dict does not fit the student's module, in the lecture's terms."""
    mine_shapes = [tuple(s) for _, s, _ in mine]
    exp_shapes = [tuple(s) for _, s, _ in expected]
    five = [s for s in exp_shapes if len(s) == 4 and s[2:] == (5, 5)]
    if any((s[0], s[1], 3, 3) in mine_shapes for s in five) and not any(s in mine_shapes for s in five):
        s = five[0]
        fail(_("{what}: a weight of shape {got} where the paper has {expected}.", what=what,
               got=(s[0], s[1], 3, 3), expected=s),
             _("branch3 has {bug}: use kernel_size=5, padding=2", bug=_(BUG_906)))
    mine_keys, exp_keys = {k for k, _, _ in mine}, {k for k, _, _ in expected}
    extra = [k for k, _, _ in mine if k not in exp_keys]
    missing = [k for k, _, _ in expected if k not in mine_keys]
    n_bias = sum(len(s) == 1 for s in mine_shapes)
    if n_bias == 0 or (len(mine) < len(expected) and all(k.endswith("bias") for k in missing)):
        fail(_("{what}: your convolutions have no biases ({mine} state_dict entries, {expected} expected).",
               what=what, mine=len(mine), expected=len(expected)),
             _("the paper's convolutions are biased (bias=True), with no BatchNorm"))
    if any(k.endswith(("running_mean", "running_var")) for k in extra):
        fail(_("{what}: your module has BatchNorm layers ({keys} …).", what=what, keys=", ".join(extra[:3])),
             _("the paper's GoogLeNet (2014) has no BatchNorm: biased convs, each followed by a ReLU "
               "(torchvision's BasicConv2d adds BN)"))
    if any(k.startswith("aux") for k in extra):
        fail(_("{what}: your module has auxiliary classifiers ({keys} …).", what=what,
               keys=", ".join(extra[:3])),
             _("leave the auxiliary classifiers out: the exercise's GoogLeNet ends with one linear layer"))
    if len(mine) == len(expected):
        wrong = [(k, e, m) for (k, e, _), (_, m, _) in zip(expected, mine) if tuple(e) != tuple(m)]
        listed = "; ".join(_("{key}: expected {expected}, got {got}", key=k, expected=tuple(e), got=tuple(m))
                           for k, e, m in wrong[:3]) + (" …" if len(wrong) > 3 else "")
        params = dict(what=what, count=len(wrong), listed=listed)
        fail(_("{what}: {count} weights have another shape than the reference's ({listed}).", **params)
             if len(wrong) > 1 else
             _("{what}: {count} weight has another shape than the reference's ({listed}).", **params),
             extra_hint or _("compare your layers with Table 1"))
    fail(_("{what}: {mine} state_dict entries where the reference has {expected} (only in the reference: "
           "{missing}; only in yours: {extra}).", what=what, mine=len(mine), expected=len(expected),
           missing=missing[:3], extra=extra[:3]),
         extra_hint or _("compare your layers, their order and their biases with the description above the "
                         "exercise"))


def _load_inception(student, args, device, ref):
    mine = student.Inception(*args)
    mine.to(device, torch.float64)
    return mine, with_reference_weights(mine, ref, lambda m, e: _layout_mismatch(
        _("{what}: the reference's weights cannot be loaded", what=signature("Inception", args)), m, e,
        _("see the Inception parameter test: branch1 1x1; branch2 1x1 → 3x3; branch3 1x1 → 5x5; branch4 "
          "max-pool → 1x1; biased convs")))


@pytest.mark.points(4)
@pytest.mark.exercise("inception")
def test_inception_matches_reference(student, reference, device):
    """Inception computes the paper's block: four branches with ReLUs, a 5x5 and a 3x3/1 max-pool, in order"""
    for args, shape in [((16, 4, 6, 8, 3, 5, 4), (2, 16, 9, 11)), (TABLE1["3a"], (1, 192, 7, 7))]:
        ref, x, expected = _ref_inception(reference, args, shape, device)
        mine, how = _load_inception(student, args, device, ref)
        got = mine(x)
        what = _("{what} on an input of shape {shape} (reference weights loaded {how})",
                 what=signature("Inception", args), shape=shape, how=_(how))
        hint = ""
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and not close(got, expected):
            variants = _cached(("inception-variants", reference, args, shape, device),
                               lambda: _inception_variants(ref, x, args))
            hint = matching_variant(got, _worded(variants))
        assert_same_output(got, expected, what, **FLOAT64,
                           hint=hint or _("branch1 = 1x1 conv, ReLU; branch2 = 1x1, ReLU, 3x3 (padding 1), "
                                          "ReLU; branch3 = 1x1, ReLU, 5x5 (padding 2), ReLU; branch4 = 3x3 "
                                          "max-pool (stride 1, padding 1), 1x1, ReLU; torch.cat in the order "
                                          "1, 2, 3, 4 along dim=1"))


# ------------------------------ 4. GoogLeNet ----------------------------------------------------
def _googlenet_call(num_classes) -> str:
    return "GoogLeNet()" if num_classes is None else f"GoogLeNet(num_classes={num_classes})"


def _student_googlenet_meta(student, num_classes):
    """The student's GoogLeNet built on meta (handle, description), once per submission."""
    def build():
        kwargs = {} if num_classes is None else {"num_classes": num_classes}
        what = _("{model} built on the meta device", model=_googlenet_call(num_classes))
        mine = _run_meta(lambda: call_on("meta", student.GoogLeNet, **kwargs), what,
                         _("create no tensors on a fixed device in __init__"))
        return mine, describe(mine)
    return _student_cached(student, ("googlenet-meta", num_classes), build)


def _googlenet_hint(student, got: int) -> str:
    known = {
        GOOGLENET_NO_BIAS: _("the convolutions have no bias: the paper's GoogLeNet uses biased convs (no "
                             "BatchNorm)"),
        GOOGLENET_3X3: _("every Inception block's branch3 has {bug}", bug=_(BUG_906)),
        GOOGLENET_TORCHVISION: _("that is torchvision's GoogLeNet (BatchNorm, no bias, {bug}) without its "
                                 "auxiliary classifiers; the paper's has biased convs, no BatchNorm and a "
                                 "true 5x5", bug=_(BUG_906)),
        GOOGLENET_AUX: _("the two auxiliary classifiers are included: the exercise's GoogLeNet leaves them "
                         "out"),
        GOOGLENET_PARAMS - 4_160: _("the 1x1 conv 64 → 64 before the 3x3 conv 64 → 192 is missing (Table 1's "
                                    "'conv 3x3/1' row has a 1x1 reduce of 64)"),
        GOOGLENET_PARAMS - 1_024_000 - 1_000: _("the final linear layer 1024 → num_classes is missing"),
    }
    if got in known:
        return known[got]
    if got > 10_000_000:
        return _("more than 10M: auxiliary classifiers (or an extra fully connected layer) are included; the "
                 "exercise's GoogLeNet ends with global average pooling, dropout 0.4 and one linear layer "
                 "1024 → num_classes")
    # is the whole difference in the Inception blocks?
    try:
        blocks = sum(int(describe(call_on("meta", student.Inception, *args))["num_params"])
                     for args in TABLE1.values())
    except (StudentRaised, CheckFailed):
        blocks = None
    expected_blocks = sum(_inception_params(args) for args in TABLE1.values())
    if blocks is not None and blocks != expected_blocks and got - GOOGLENET_PARAMS == \
            blocks - expected_blocks:
        return _("the whole difference is in your Inception blocks (nine of them, Table 1's rows): fix "
                 "Inception first (see its parameter test)")
    return _("conv 7x7/2 3→64, max-pool, conv 1x1 64→64, conv 3x3 64→192, max-pool, inception 3a 3b, "
             "max-pool, 4a–4e, max-pool, 5a 5b (Table 1's rows), global average pool, dropout, linear "
             "1024→num_classes; all convs biased, no BatchNorm, no auxiliary classifiers")


def _count_given_blocks(student) -> int | None:
    """GoogLeNet's count built from the student's own Inception (Table 1's rows, counted in the sandbox)."""
    def count():
        try:
            mine = sum(int(describe(call_on("meta", student.Inception, *args))["num_params"])
                       for args in TABLE1.values())
            return GOOGLENET_PARAMS + mine - sum(map(_inception_params, TABLE1.values()))
        except StudentRaised as err:
            if passes_through(err):
                raise
            return None
    return _student_cached(student, "googlenet-given-count", count)


def _googlenet_given_parts(student, reference, device: str, with_parts: bool = False):
    """The student's GoogLeNet(num_classes=10) with the reference's weights outside its Inception blocks and,
    part by part, inside them (with the student's own Inception at Table 1's rows: ``parts``); None where it
    cannot be built so."""
    state = _ref_googlenet(reference)[1]
    dtype = torch.float32 if device == "cpu" else torch.float64
    paths = [f"inception{row}" for row in TABLE1]

    def on_device(build):
        module = call_on("meta", build)
        module.to_empty(device=device)
        module.to(device, dtype)
        return module.eval()
    try:
        mine = on_device(lambda: student.GoogLeNet(num_classes=10))
        parts = {p: on_device(lambda p=p: student.Inception(*TABLE1[p.removeprefix("inception")]))
                 for p in paths}
        load_given_parts(mine, state, parts, seed=5, dtype=dtype)
    except (StudentRaised, CheckFailed) as err:
        if isinstance(err, StudentRaised) and passes_through(err):
            raise
        mine = parts = None
    return (mine, parts) if with_parts else mine


def _given_blocks(student, reference, device: str, x):
    """(the student's GoogLeNet, the reference's with the student's own Inception at Table 1's rows), the same
    weights in both, on ``x``; None where that cannot be built. Names an Inception that does not run."""
    ref = _ref_googlenet(reference)[0]
    mine, parts = _googlenet_given_parts(student, reference, device, with_parts=True)
    if mine is None:
        return None, None
    dtype = torch.float32 if device == "cpu" else torch.float64
    return outputs_given_parts("GoogLeNet", mine, copy.deepcopy(ref).to(device), None, parts, x, dtype)


@pytest.mark.points(3)
@pytest.mark.exercise("googlenet")
@pytest.mark.confirmed_by("test_googlenet_matches_reference")
def test_googlenet_parameters(student):
    """GoogLeNet (Table 1, no auxiliary classifiers) has 6,998,552 parameters; num_classes: last layer only"""
    info = _student_googlenet_meta(student, None)[1]
    got, given = int(info["num_params"]), _count_given_blocks(student)
    if got not in (GOOGLENET_PARAMS, given):
        count_failure("GoogLeNet()", got, GOOGLENET_PARAMS, _googlenet_hint(student, got))
    if got != GOOGLENET_PARAMS:
        note(carried_forward("GoogLeNet", ["Inception"], _("parameter count")))
    info10 = _student_googlenet_meta(student, 10)[1]
    got10 = int(info10["num_params"])
    if got10 != got - (GOOGLENET_PARAMS - GOOGLENET_10_PARAMS):
        if got10 == got:
            hint = _("num_classes is ignored: the last linear layer is 1024 → num_classes")
        elif got - got10 > 1024 * 990 + 990:
            hint = _("more than the last layer changed with num_classes: only the final linear layer (1024 → "
                     "num_classes) depends on it (auxiliary classifiers?)")
        else:
            hint = _("only the final linear layer changes: 1024·num_classes weights + num_classes biases")
        fail(_("GoogLeNet(num_classes=10): parameter count {got:,} ≠ {expected:,}.", got=got10,
               expected=GOOGLENET_10_PARAMS), hint)


@pytest.mark.points(2)
@pytest.mark.exercise("googlenet")
def test_googlenet_output_shapes(student):
    """GoogLeNet returns (N, num_classes) logits for 224x224 and other input sizes (meta device)"""
    hint = _("create no tensors on a fixed device; the network must run on the input's device")
    for num_classes, shape in [(None, (2, 3, 224, 224)), (10, (1, 3, 160, 160)), (None, (1, 3, 97, 97))]:
        mine = _student_googlenet_meta(student, num_classes)[0]
        n_out = 1000 if num_classes is None else num_classes
        what = _("{model} on a meta input of shape {shape}", model=_googlenet_call(num_classes), shape=shape)
        out = _run_meta(lambda: mine(torch.empty(*shape, device="meta")), what, hint)
        if isinstance(out, (tuple, list)):
            fail(_("{what}: forward returned a {type_name} of {count} items instead of one tensor.",
                   what=what, type_name=type(out).__name__, count=len(out)),
                 _("no auxiliary classifiers: forward returns only the final logits, a tensor (N, "
                   "num_classes)"))
        shape_hint = _("global average pooling (nn.AdaptiveAvgPool2d((1, 1))) then flatten, dropout and the "
                       "linear layer 1024 → num_classes: the logits are (N, num_classes) for any input size")
        assert_tensor(what, out, shape=(shape[0], n_out), device="meta", hint=shape_hint)


DROPOUT_ROWS = range(5, 10)  # logits 5..9 each read one pooled feature: y_i = mask·f_j/(1 − p) + b_i


def _integer_weights(model: nn.Module, features: torch.Tensor | None = None) -> None:
    """Sparse ±1 weights (about 4 inputs per output unit) and small integer biases: with an integer input
    every value up to the average pool is an integer well below 2**24, so float32 and float64 agree exactly,
    activations stay around 10..10^4, and the weights travel as int8. With ``features`` (the pooled features),
    logits 5..9 of
    the last linear layer each read one large feature (e_j rows), for the dropout check."""
    g = generator(43)
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for m in layers:
            w = m.weight
            taps = 16 if m is layers[-1] else 4
            keep = torch.rand(w.shape, generator=g) < min(1.0, taps / w[0].numel())
            w.copy_((torch.randint(0, 2, w.shape, generator=g) * 2 - 1) * keep)
            m.bias.copy_(torch.randint(-1, 2, m.bias.shape, generator=g))
        if features is not None:
            fc = layers[-1]
            picks = torch.argsort(features.flatten(), descending=True)[:len(DROPOUT_ROWS)]
            for row, j in zip(DROPOUT_ROWS, picks.tolist()):
                fc.weight[row].zero_()
                fc.weight[row, j] = 1
                fc.bias[row] = row if row % 2 else -row   # non-zero: a dropped logit is exactly its bias


def _ref_googlenet(reference):
    """(reference in float64 on CPU with integer weights, int8 state_dict, input); once per worker."""
    def build():
        ref = reference.GoogLeNet(num_classes=10).double().eval()
        x = torch.randint(-2, 3, (1, 3, 64, 64), generator=generator(41)).double()
        _integer_weights(ref)
        pooled = {}
        fc = [m for m in ref.modules() if isinstance(m, nn.Linear)][-1]
        hook = fc.register_forward_hook(lambda m, inp, out: pooled.__setitem__("f", inp[0].detach()))
        try:
            with torch.no_grad():
                ref(x)
        finally:
            hook.remove()
        _integer_weights(ref, pooled["f"])
        state = {k: v.to(torch.int8) for k, v in ref.state_dict().items()}
        assert all(torch.equal(state[k].double(), v) for k, v in ref.state_dict().items())
        return ref, state, x
    return _cached(("googlenet", reference), build)


def _ref_googlenet_output(reference, device):
    def build():
        ref, _state, x = _ref_googlenet(reference)
        with torch.no_grad():
            return copy.deepcopy(ref).to(device)(x.to(device)), x.to(device)
    return _cached(("googlenet-out", reference, device), build)


def _student_googlenet(student, reference, device):
    """The student's GoogLeNet(num_classes=10) on device with the reference's weights; (module, how, dtype).

    Built on meta and materialised with to_empty (no initialisation: every weight is loaded next). float32 on
    CPU (exact here: integer arithmetic), float64 on a GPU (no TF32).
    """
    def build():
        state = _ref_googlenet(reference)[1]
        try:
            mine = call_on("meta", student.GoogLeNet, num_classes=10)
            mine.to_empty(device=device)
        except StudentRaised:   # not buildable on meta (its own test says so): build it normally
            mine = student.GoogLeNet(num_classes=10)
            mine.to(device)
        dtype = torch.float32 if device == "cpu" else torch.float64
        mine.to(device, dtype)
        try:   # the reference's weights as int8 (4x less to send)
            how = with_reference_weights(mine, state, lambda m, e: _layout_mismatch(
                _("GoogLeNet(num_classes=10): the reference's weights cannot be loaded into yours"), m, e,
                _("fix the parameter count first (see the GoogLeNet parameter test): the layers, their order "
                  "and their sizes must be those of Table 1, the last one 1024 → num_classes")))
        except CheckFailed as err:   # kept for every test of this submission that needs the model
            return err
        return mine, how, dtype

    built = _student_cached(student, ("googlenet", device), build)
    if isinstance(built, CheckFailed):
        raise built
    return built


def _googlenet_variants(reference, device):
    """(output, explanation function) of GoogLeNets with wrong max-pools, with the reference's weights
    (computed once)."""
    return _cached(("googlenet-variants", reference, device),
                   lambda: _build_googlenet_variants(reference, device))


def _build_googlenet_variants(reference, device):
    ref, _state, x = _ref_googlenet(reference)
    out = []
    for change, why in [
        ("floor", lambda: _("the max-pools round down: use nn.MaxPool2d(3, stride=2, ceil_mode=True) "
                            "(Caffe's rounding, as in the paper's network); without ceil_mode a 64x64 input "
                            "gives 32, 15, 7, 3, 1 pixels")),
        ("2x2", lambda: _("the max-pool before inception 5a is 2x2 (torchvision's choice): the paper's "
                          "(Table 1) is 3x3/2"))]:
        variant = copy.deepcopy(ref)
        pools = [m for m in variant.modules() if isinstance(m, nn.MaxPool2d) and m.stride in (2, (2, 2))]
        if change == "floor":
            for m in pools:
                m.ceil_mode = False
        elif pools:
            pools[-1].kernel_size = 2
        with torch.no_grad():
            out.append((variant.to(device)(x.to(device)), why))
    return out


@pytest.mark.points(3)
@pytest.mark.exercise("googlenet")
def test_googlenet_matches_reference(student, reference, device):
    """GoogLeNet(num_classes=10) computes the reference's function in eval mode (1x3x64x64, same weights)"""
    expected, x = _ref_googlenet_output(reference, device)
    unloaded = raised = got = None
    try:
        mine, how, dtype = _student_googlenet(student, reference, device)
        mine.eval()
        got = mine(x.to(dtype))
    except (CheckFailed, StudentRaised) as err:
        if isinstance(err, StudentRaised) and passes_through(err):
            raise
        unloaded, raised = (err, None) if isinstance(err, CheckFailed) else (None, err)
    if not (isinstance(got, torch.Tensor) and close(got, expected)):
        mine_given, given = _given_blocks(student, reference, device, x)
        scale = max(expected.abs().max().item(), 1.0)
        if close(mine_given, given, atol=1e-5 * scale, rtol=1e-5):
            return note(carried_forward("GoogLeNet", ["Inception"]))
        if unloaded is not None or raised is not None:
            raise unloaded or raised
    what = _("GoogLeNet(num_classes=10) in eval mode on a (1, 3, 64, 64) input (reference weights loaded "
             "{how})", how=_(how))
    if isinstance(got, (tuple, list)):
        fail(_("{what}: forward returned a {type_name} instead of one tensor.", what=what,
               type_name=type(got).__name__),
             _("no auxiliary classifiers: forward returns only the final logits"))
    hint = _("conv 7x7/2 (padding 3), ReLU, max-pool 3x3/2, conv 1x1 64→64, ReLU, conv 3x3 64→192 (padding "
             "1), ReLU, max-pool, 3a, 3b, max-pool, 4a–4e, max-pool, 5a, 5b, global average pool, flatten, "
             "dropout, linear; every max-pool 3x3, stride 2, ceil_mode=True (a 64x64 input gives 32, 16, 8, "
             "4 and 2 pixels); if the Inception tests fail too, fix Inception first: GoogLeNet uses it nine "
             "times")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and not close(got, expected):
        again = mine(x.to(dtype))
        if isinstance(again, torch.Tensor) and not torch.equal(again, got):
            hint = _("two calls in eval mode gave different outputs: dropout is active in eval mode — use "
                     "nn.Dropout (or F.dropout(x, 0.4, self.training))")
        else:
            hint = matching_variant(got, _worded(_googlenet_variants(reference, device))) or hint
    assert_same_output(got.double() if isinstance(got, torch.Tensor) else got, expected, what, **FLOAT64,
                       hint=hint)


DROPOUT_COPIES = 4   # one training pass over 4 copies of x: 20 features, all dropped with probability 0.4**20 ≈ 1e-8


@pytest.mark.points(2)
@pytest.mark.exercise("googlenet")
def test_googlenet_dropout(student, reference):
    """GoogLeNet drops the pooled features with p = 0.4 before the linear layer, in training mode only"""
    ref, _state, x = _ref_googlenet(reference)
    rows = list(DROPOUT_ROWS)
    bias = [m for m in ref.modules() if isinstance(m, nn.Linear)][-1].bias.detach().float()[rows]
    try:
        mine = _student_googlenet(student, reference, "cpu")[0]
    except CheckFailed:   # judged with its own Inception blocks where theirs differ from the reference's
        mine = _googlenet_given_parts(student, reference, "cpu")
        if mine is None:
            raise
    mine.eval()
    eval_out = mine(x.float())
    assert_tensor(_("GoogLeNet(num_classes=10) in eval mode"), eval_out, shape=(1, 10),
                  hint=_("forward returns the logits (N, num_classes)"))
    f = eval_out[0, rows] - bias       # the pooled features that logits 5..9 read (weights of 1)
    usable = f.abs() > 1e-3
    if not usable.any():
        fail(_("GoogLeNet(num_classes=10): the pooled features read by the check are all zero, so dropout "
               "cannot be checked."),
             _("fix the forward pass first (see the test comparing with the reference)"))
    mine.train()
    try:
        out = mine(x.float().expand(DROPOUT_COPIES, -1, -1, -1).contiguous())
    finally:
        mine.eval()
    if isinstance(out, (tuple, list)):
        fail(_("GoogLeNet in training mode returned a tuple instead of one tensor."),
             _("no auxiliary classifiers: forward returns only the final logits, also in training mode"))
    assert_tensor(_("GoogLeNet(num_classes=10) in training mode"), out, shape=(DROPOUT_COPIES, 10))
    y = out[:, rows][:, usable]
    dropped = y == bias[usable]
    kept = ((y - bias[usable]) / f[usable])[~dropped]
    if not dropped.any() and torch.allclose(kept, torch.ones_like(kept), atol=1e-5):
        fail(_("GoogLeNet in training mode gives the same output as in eval mode: no dropout."),
             _("the paper uses dropout with p = 0.4 between the global average pool and the linear layer "
               "(nn.Dropout(p=0.4)); it is active in training mode only"))
    if kept.numel() == 0:
        fail(_("GoogLeNet in training mode: every pooled feature was dropped in {copies} copies of the "
               "input.", copies=DROPOUT_COPIES),
             _("dropout p = 0.4 before the linear layer (nn.Dropout(p=0.4)) keeps 60% of the features"))
    if not torch.allclose(kept, torch.full_like(kept, 1 / 0.6), atol=1e-4, rtol=1e-4):
        scales = sorted({round(v, 3) for v in kept.tolist()})
        hint = _("dropout must act on the 1024 pooled features, right before the linear layer (avgpool → "
                 "flatten → dropout → fc), with p = 0.4")
        if len(scales) == 1 and scales[0] > 1:
            hint = _("the kept features are scaled by {scale:g}, i.e. p = {p:.2g}: the paper's dropout ratio "
                     "is 0.4 (nn.Dropout(p=0.4) drops 40% and scales the kept ones by 1/0.6)",
                     scale=scales[0], p=1 - 1 / scales[0])
        fail(_("GoogLeNet in training mode: the pooled features are not dropped with p = 0.4 just before the "
               "linear layer (kept features scaled by {scales}, expected 1/0.6 = 1.667).", scales=scales[:4]),
             hint)


# ------------------------------ 5. quiz ---------------------------------------------------------
@pytest.mark.points(1)
@pytest.mark.exercise("quiz")
def test_quiz_fewest_params(student):
    """Quiz: of AlexNet, VGG19 and GoogLeNet, GoogLeNet has the fewest parameters"""
    got = student.FEWEST_PARAMS
    if got is None:
        not_implemented("quiz", _("still sets FEWEST_PARAMS = None: the quiz is not answered"),
                        _('set FEWEST_PARAMS = "AlexNet", "VGG19" or "GoogLeNet"'))
    if isinstance(got, str) and got.strip().lower() == "googlenet" and got != "GoogLeNet":
        fail(_("FEWEST_PARAMS: expected 'GoogLeNet', got {got!r}.", got=got),
             _("spell it exactly as given: \"GoogLeNet\""))
    hints = {"VGG19": _("VGG19 has the most: 143.7M (the lecture's 110M is wrong), 86% of them in its three "
                        "FC layers"),
             "AlexNet": _("AlexNet has about 61M, almost all in its FC layers; compare with your measured "
                          "GoogLeNet")}
    assert_equal("FEWEST_PARAMS", got, "GoogLeNet",
                 hint=hints.get(got, _("one of \"AlexNet\", \"VGG19\", \"GoogLeNet\": look at the table you "
                                       "measured")))


@pytest.mark.points(2)
@pytest.mark.exercise("quiz")
def test_quiz_googlenet_millions(student):
    """Quiz: GOOGLENET_MILLIONS is your GoogLeNet's count in millions, one decimal: 7.0 (not the 4M)"""
    got = student.GOOGLENET_MILLIONS
    if got is None:
        not_implemented("quiz", _("still sets GOOGLENET_MILLIONS = None: the quiz is not answered"),
                        _("measure your GoogLeNet: round(sum(p.numel() for p in GoogLeNet().parameters()) / "
                          "1e6, 1)"))
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        fail(_("GOOGLENET_MILLIONS: expected a number, got {got!r} ({type_name}).", got=got,
               type_name=type(got).__name__),
             _("a float with one decimal, e.g. round(count / 1e6, 1)"))
    if got in (4, 4.0):
        fail(_("GOOGLENET_MILLIONS: expected 7.0, got {got!r}.", got=got),
             _("the lecture's 4M is wrong: measure your own model, round(count / 1e6, 1)"))
    try:
        info = _student_googlenet_meta(student, None)[1]
        own = int(info["num_params"])
    except (StudentRaised, CheckFailed):
        try:   # not buildable on meta (its own test says so): count it on the CPU
            own = int(describe(student.GoogLeNet())["num_params"])
        except (StudentRaised, CheckFailed):
            own = None
    if own is None:
        fail(_("GOOGLENET_MILLIONS = {got!r}, but your GoogLeNet() could not be built, so it was not "
               "measured.", got=got),
             _("finish GoogLeNet first, then measure it"))
    yours = round(own / 1e6, 1)
    if got == own:
        fail(_("GOOGLENET_MILLIONS: expected {yours} (millions), got {got:,} (the raw count).", yours=yours,
               got=got),
             _("in millions, one decimal: round(count / 1e6, 1)"))
    if got != yours:
        hint = (_("one decimal: round(count / 1e6, 1)") if abs(got - own / 1e6) < 0.05 else
                _("your own GoogLeNet has {own:,} parameters ≈ {yours}M: measure your own model, "
                  "round(count / 1e6, 1)", own=own, yours=yours))
        fail(_("GOOGLENET_MILLIONS: expected {yours} (your GoogLeNet's {own:,} parameters), got {got!r}.",
               yours=yours, own=own, got=got), hint)
    if got != 7.0 and own == _count_given_blocks(student):
        note(carried_forward("GoogLeNet", ["Inception"], _("parameter count (which the quiz reads)")))
    elif got != 7.0:
        fail(_("GOOGLENET_MILLIONS = {got!r} matches your GoogLeNet ({own:,} parameters), but the paper's "
               "network has {expected:,} ≈ 7.0M.", got=got, own=own, expected=GOOGLENET_PARAMS),
             _("fix GoogLeNet first (see its parameter test), then measure again"))
