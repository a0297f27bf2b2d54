"""Hidden tests for the DenseNet assignment (DenseLayer, DenseBlock, dense_channels, Transition, DenseNet).

Forward comparisons run in float64 (no TF32 on CUDA, tight tolerances) with the
reference's BatchNorm parameters and running statistics randomised, so that an
eval-mode BatchNorm is not the identity and a misplaced or missing BN/ReLU shows.
Reference modules, inputs and outputs are built once per (config, device, mode)
and reused for every submission graded by this worker.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from grader.checks import (ResultCache, randomise_batchnorm, assert_same_layout, CheckFailed, assert_equal, assert_param_count, assert_same_output, assert_tensor,
                           call_keeping_inputs, call_on, describe, fail, load_weights, state_dict_layout,
                           type_names)
from grader.sandbox.client import StudentRaised

TORCHVISION = Path(__file__).resolve().parent.parent / "tests/data/torchvision/densenet121.json"
ATOL, RTOL = 1e-7, 1e-6  # float64 on both sides


# --------------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------------
_cache = ResultCache()
_cached = _cache.once


def _ref_case(reference, name: str, args: tuple, kwargs: dict, shape: tuple, device: str, seed: int = 0):
    """(reference module on device in float64, input, {"eval": out, "train": out}); computed once."""
    def build():
        torch.manual_seed(seed)
        ref = randomise_batchnorm(getattr(reference, name)(*args, **kwargs), seed + 1).double().to(device).eval()
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed + 2), dtype=torch.float64).to(device)
        outs = {}
        with torch.no_grad():
            outs["eval"] = ref(x)
            outs["train"] = copy.deepcopy(ref).train()(x)  # a copy: the cached ref keeps its running statistics
        return ref, x, outs
    return _cached((reference, name, args, tuple(sorted(kwargs.items())), shape, device, seed), build)


_student_cached = _cache.per_submission


def _ref_layout(reference, name: str, *args, **kwargs):
    def build():
        with torch.device("meta"):
            return state_dict_layout(getattr(reference, name)(*args, **kwargs))
    return _cached(("layout", reference, name, args, tuple(sorted(kwargs.items()))), build)


def _measure(module) -> tuple[int, list]:
    """Parameter count and state_dict layout from one description (one round trip for a student's module)."""
    info = describe(module)
    return int(info["num_params"]), [(k, tuple(shape), d) for k, shape, d in info["state_dict"]]


def _signature(name: str, args: tuple, kwargs: dict) -> str:
    return f"{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"


def _student_on(student, name: str, args: tuple, kwargs: dict, device: str, ref):
    """The student's module on ``device`` in float64 with the reference's weights; returns (module, how)."""
    mine = getattr(student, name)(*args, **kwargs)
    mine.to(device, torch.float64)
    try:
        how = load_weights(mine, ref)
    except (CheckFailed, StudentRaised):
        # explain the mismatch in the lecture's terms (keys, shapes), then fall back to the helper's own message
        _check_layout(f"{_signature(name, args, kwargs)}: the reference's weights cannot be loaded; its state_dict",
                      state_dict_layout(mine), state_dict_layout(ref), _layout_hint)
        raise
    return mine, how


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(
        a.detach().double().cpu(), b.detach().double().cpu(), atol=ATOL, rtol=RTOL)


def _diagnose(got, expected: torch.Tensor, ref, mode: str, variants) -> str:
    """If the student's output is wrong but equals a known wrong variant, say which mistake it is.

    ``variants(r)`` returns [(output, explanation)] computed with ``r``, a copy of the reference module in ``mode``;
    it runs only when the output is wrong.
    """
    if not isinstance(got, torch.Tensor) or _close(got, expected):
        return ""
    r = copy.deepcopy(ref).train(mode == "train")
    with torch.no_grad():
        for out, explanation in variants(r):
            if _close(got, out):
                return explanation
    return ""


def _check_layout(what: str, mine: list, expected: list, hint_for) -> None:
    """Compare state_dict layouts [(key, shape, dtype)]: keys, shapes, order."""
    assert_same_layout(what, mine, expected, hint_for,
                       "register the submodules in torchvision's order (the order of assignment in __init__ is the"
                       ' order of the state_dict), e.g. norm1, relu1, conv1, norm2, relu2, conv2')


def _layout_hint(missing, extra, wrong) -> str:
    if any(k.endswith("bias") and "conv" in k for k in extra):
        return ("a convolution has a bias: every convolution in DenseNet uses bias=False, because a BatchNorm "
                "with its own shift follows it")
    if any("transition" in k and "transition" not in " ".join(missing) for k in extra):
        return "no transition after the last dense block: norm5 follows the last denseblock directly"
    if any(k.split(".")[-2:-1] in (["conv1"], ["norm2"]) for k in missing):
        return ("the 1x1 bottleneck is missing: a dense layer is BN → ReLU → 1x1 conv (in → bn_size·k) → "
                "BN → ReLU → 3x3 conv (bn_size·k → k)")
    if missing and all("running" in k or "num_batches" in k for k in missing):
        return "use nn.BatchNorm2d with its defaults (running statistics are part of the state_dict)"
    if wrong:
        k = wrong[0][0]
        if "transition" in k:
            return ("wrong channel bookkeeping: each transition halves the channels, "
                    "Transition(c, c // 2), and the next block starts from that halved width")
        if "norm5" in k or "classifier" in k:
            return ("wrong channel bookkeeping: norm5 and the classifier see the channels leaving the last block "
                    "(dense_channels of it; no halving after the last block)")
        if "conv1" in k or "norm2" in k or k.endswith("conv2.weight"):
            return ("the bottleneck has bn_size · growth_rate channels: conv1 is 1x1 in → bn_size·k, "
                    "conv2 is 3x3 bn_size·k → k (pass bn_size on to every DenseLayer)")
        if "norm1" in k:
            return ("layer i of a block sees in_channels + (i − 1)·growth_rate channels (the concatenation of the "
                    "block input and every earlier layer's k new maps), and each block starts from the width the "
                    "transition before it produced")
        if "conv0" in k or "norm0" in k:
            return "conv0 is a 7x7 conv, stride 2, 3 → num_init_features, no bias"
    return ("keep torchvision's names and order: features.conv0 norm0 relu0 pool0 denseblock1 transition1 … "
            "denseblock4 norm5, denselayer1..N with norm1 relu1 conv1 norm2 relu2 conv2, transitions with "
            "norm relu conv pool")


def _dense_layer_params(c: int, k: int, b: int) -> int:
    return 2 * c + c * b * k + 2 * b * k + 9 * b * k * k


DEVICE_WORDS = ("device", "meta", "cpu", "cuda", "is_pinned", "expected all tensors")


def _run_meta(fn, what: str, hint: str):
    try:
        return fn()
    except StudentRaised as err:
        if not any(word in err.message.lower() for word in DEVICE_WORDS):
            hint = ("this error is not about devices: your code fails on this input whatever the device "
                    "(see the other tests' messages for this module)")
        fail(f"{what}: your code raised {err.type_name}: {err.message}" +
             (f"\n{err.traceback}" if err.traceback else ""), hint)


# --------------------------------------------------------------------------------------------------------------------
# DenseLayer
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.points(3)
@pytest.mark.exercise("dense_layer")
@pytest.mark.confirmed_by("test_dense_layer_matches_reference")
def test_dense_layer_parameters(student, reference):
    """DenseLayer: BN-ReLU-1x1 bottleneck (bn_size·k)-BN-ReLU-3x3, no bias: parameter counts and torchvision names"""
    build = student.DenseLayer
    for args, kwargs in [((64, 32), {}), ((100, 12), {"bn_size": 2}), ((7, 5), {"bn_size": 1})]:
        c, k = args
        b = kwargs.get("bn_size", 4)
        what = _signature("DenseLayer", args, kwargs)
        mine = call_on("meta", build, *args, **kwargs)
        expected = _dense_layer_params(c, k, b)
        got, layout = _measure(mine)
        if got != expected:
            if got - expected in (b * k, k, b * k + k):
                hint = ("a convolution has a bias: DenseNet's convs use bias=False (BatchNorm follows with its own "
                        "shift); the difference is exactly the conv biases")
            elif got == 2 * c + 9 * c * k:
                hint = ("the 1x1 bottleneck is missing: first a 1x1 conv to bn_size·growth_rate channels "
                        "(채널 방향 차원 축소), then the 3x3 conv to growth_rate")
            elif got == _dense_layer_params(c, k, 4) or got == _dense_layer_params(c, k, 1):
                hint = "the bottleneck width is bn_size · growth_rate: use the bn_size argument, not a constant"
            else:
                hint = (f"expected 2·{c} (norm1) + {c}·{b * k} (1x1 conv1) + 2·{b * k} (norm2) + "
                        f"3·3·{b * k}·{k} (3x3 conv2), convs without bias")
            assert_param_count(what, mine, expected, hint=hint)
        _check_layout(what, layout, _ref_layout(reference, "DenseLayer", *args, **kwargs), _layout_hint)


@pytest.mark.points(2)
@pytest.mark.exercise("dense_layer")
def test_dense_layer_returns_new_maps(student):
    """DenseLayer returns only the k new feature maps, same height and width, and leaves its input unchanged"""
    build = student.DenseLayer
    for args, kwargs, shape in [((16, 8), {}, (2, 16, 9, 9)), ((10, 6), {"bn_size": 2}, (1, 10, 5, 7)),
                                ((6, 6), {"bn_size": 1}, (3, 6, 4, 3))]:
        c, k = args
        b = kwargs.get("bn_size", 4)
        what = f"{_signature('DenseLayer', args, kwargs)} on an input of shape {shape}"
        mine = build(*args, **kwargs)
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(3))
        out, (x_after,) = call_keeping_inputs(mine, x)
        assert_tensor(what, out, hint="forward must return a tensor: the k new maps")
        expected = (shape[0], k, shape[2], shape[3])
        if tuple(out.shape) != expected:
            if out.dim() == 4 and out.shape[1] == c + k:
                hint = ("you returned the concatenation [x, new maps]: a dense layer returns only its growth_rate "
                        "new maps; concatenating them is the DenseBlock's job")
            elif out.dim() == 4 and out.shape[1] == b * k:
                hint = "the 3x3 conv2 (bn_size·k → k) is missing at the end"
            elif out.dim() == 4 and out.shape[1] == k:
                hint = "the 3x3 conv keeps height and width only with padding=1 (and stride 1)"
            else:
                hint = "the layer returns growth_rate maps of the input's height and width"
            assert_tensor(what, out, shape=expected, hint=hint)
        if not torch.equal(x_after, x):
            fail(f"{what}: your forward changed its input x in place (max change "
                 f"{(x_after - x).abs().max().item():.3g}).",
                 "an in-place ReLU (inplace=True) must act on norm1's output, never on x itself: x is the block's "
                 "stored feature map")


@pytest.mark.points(3)
@pytest.mark.exercise("dense_layer")
def test_dense_layer_matches_reference(student, reference, device):
    """DenseLayer computes conv2(relu2(norm2(conv1(relu1(norm1(x)))))), in eval and in train mode"""
    for args, kwargs, shape in [((16, 8), {}, (2, 16, 9, 9)), ((10, 6), {"bn_size": 2}, (1, 10, 5, 7))]:
        ref, x, outs = _ref_case(reference, "DenseLayer", args, kwargs, shape, device)
        mine, how = _student_on(student, "DenseLayer", args, kwargs, device, ref)
        for mode in ("eval", "train"):
            getattr(mine, mode)()
            got = mine(x)
            what = f"{_signature('DenseLayer', args, kwargs)} output in {mode} mode (reference weights loaded {how})"
            diag = _diagnose(got, outs[mode], ref, mode, lambda r: [
                (r.conv2(F.relu(r.norm2(r.conv1(r.norm1(x))))), "relu1 (the ReLU after norm1) is missing"),
                (r.conv2(r.norm2(r.conv1(F.relu(r.norm1(x))))), "relu2 (the ReLU after norm2) is missing"),
            ])
            assert_same_output(got, outs[mode], what, atol=ATOL, rtol=RTOL,
                               hint=diag or "the order is BN → ReLU → 1x1 conv → BN → ReLU → 3x3 conv (padding 1), "
                                            "pre-activation as in ResNet v2; return only the new maps")


# --------------------------------------------------------------------------------------------------------------------
# DenseBlock
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.points(3)
@pytest.mark.exercise("dense_block")
def test_dense_block_concatenates(student):
    """DenseBlock concatenates [x, new1, …, newL] along the channels: c0 + L·k channels, the input kept unchanged"""
    build = student.DenseBlock
    for args, kwargs, shape in [((3, 8, 8), {}, (2, 8, 6, 6)), ((4, 10, 3), {"bn_size": 2}, (1, 10, 5, 7)),
                                ((2, 6, 4), {}, (3, 6, 9, 4))]:
        num_layers, c0, k = args
        what = f"{_signature('DenseBlock', args, kwargs)} on an input of shape {shape}"
        mine = build(*args, **kwargs)
        mine.eval()
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(4))
        out, (x_after,) = call_keeping_inputs(mine, x)
        assert_tensor(what, out, hint="forward must return one tensor: torch.cat of all feature maps, dim=1")
        expected = (shape[0], c0 + num_layers * k, shape[2], shape[3])
        if tuple(out.shape) != expected:
            if out.dim() == 4 and out.shape[1] == c0:
                hint = ("the output has as many channels as the input: that is ResNet's addition x + F(x). "
                        "DenseNet concatenates instead: torch.cat([x, new1, …, newL], dim=1)")
            elif out.dim() == 4 and out.shape[1] == num_layers * k:
                hint = "the block's input x is missing from the concatenation: the output starts with x itself"
            elif out.dim() == 4 and out.shape[1] == k:
                hint = "you returned only the last layer's new maps: concatenate x and every layer's new maps"
            else:
                hint = "every layer appends growth_rate maps to the concatenation: c0 + L·k channels"
            assert_tensor(what, out, shape=expected, hint=hint)
        if not torch.equal(x_after, x):
            fail(f"{what}: your forward changed its input x in place.",
                 "never modify x: it is part of the block's output (use torch.cat, and in-place ReLUs only on "
                 "BatchNorm outputs)")
        if not torch.equal(out[:, :c0], x):
            if torch.equal(out[:, -c0:], x):
                hint = ("the input sits at the end: the order is [x, new1, new2, …] — x first, then each layer's new "
                        "maps in the order the layers run (wrong concatenation order)")
            else:
                hint = ("the first c0 output channels must be the input itself, unchanged: DenseNet concatenates "
                        "[x, new1, …] and adds nothing to x (concatenation, not addition)")
            fail(f"{what}: output channels 0..{c0 - 1} are not the block's input x (max difference "
                 f"{(out[:, :c0] - x).abs().max().item():.3g}).", hint)
        try:
            new1 = mine.denselayer1(x)
        except StudentRaised:  # children names are checked by test_dense_block_layers
            continue
        if isinstance(new1, torch.Tensor) and new1.shape == out[:, c0:c0 + k].shape and not torch.allclose(
                out[:, c0:c0 + k], new1, atol=1e-5, rtol=1e-4):
            fail(f"{what}: output channels {c0}..{c0 + k - 1} are not denselayer1's new maps of x.",
                 "wrong concatenation order: after x come denselayer1's k maps, then denselayer2's, …; each layer is "
                 "fed torch.cat([x, new1, …], dim=1) in that order")


@pytest.mark.points(2)
@pytest.mark.exercise("dense_block")
@pytest.mark.confirmed_by("test_dense_block_matches_reference")
def test_dense_block_layers(student, reference):
    """DenseBlock: children denselayer1..L, layer i sees c0 + (i−1)·k channels (denseblock1 has 335,040 parameters)"""
    build = student.DenseBlock
    mine = call_on("meta", build, 6, 64, 32)
    if "ModuleDict" not in type_names(mine):
        fail(f"DenseBlock is a subclass of {type_names(mine)[1:-1]}, not of nn.ModuleDict.",
             "declare it as class DenseBlock(nn.ModuleDict), as torchvision's _DenseBlock, and add the layers as its "
             "entries denselayer1..N")
    info = describe(mine)
    names = [name for name, _ in info["children"]]
    assert_equal("DenseBlock(6, 64, 32) children", names, [f"denselayer{i}" for i in range(1, 7)],
                 hint="add the layers with self.add_module(f'denselayer{i + 1}', layer), numbered from 1")
    got = int(info["num_params"])
    if got == 6 * _dense_layer_params(64, 32, 4):
        fail(f"DenseBlock(6, 64, 32) (densenet121's denseblock1): parameter count {got:,} ≠ 335,040 "
             f"(six copies of DenseLayer(64, 32)).",
             "every layer was built for in_channels inputs: layer i sees in_channels + (i − 1)·growth_rate channels, "
             "because the block concatenates (it does not add)")
    for args, kwargs in [((6, 64, 32), {}), ((4, 10, 6), {"bn_size": 3})]:
        if args == (6, 64, 32):
            layout = [(k, tuple(shape), d) for k, shape, d in info["state_dict"]]
        else:
            layout = state_dict_layout(call_on("meta", build, *args, **kwargs))
        _check_layout(_signature("DenseBlock", args, kwargs), layout,
                      _ref_layout(reference, "DenseBlock", *args, **kwargs), _layout_hint)
    if got != 335_040:  # same layout as the reference but other parameters (e.g. frozen or extra ones)
        fail(f"DenseBlock(6, 64, 32): parameter count {got:,} ≠ 335,040.",
             "layer i is DenseLayer(in_channels + (i − 1)·growth_rate, growth_rate, bn_size), nothing else")


@pytest.mark.points(4)
@pytest.mark.exercise("dense_block")
def test_dense_block_matches_reference(student, reference, device):
    """DenseBlock output equals the reference (each layer fed the concatenation so far), in eval and in train mode"""
    for args, kwargs, shape in [((3, 16, 8), {}, (2, 16, 9, 9)), ((2, 5, 5), {"bn_size": 1}, (1, 5, 7, 6))]:
        num_layers, c0, k = args
        ref, x, outs = _ref_case(reference, "DenseBlock", args, kwargs, shape, device)
        mine, how = _student_on(student, "DenseBlock", args, kwargs, device, ref)
        for mode in ("eval", "train"):
            getattr(mine, mode)()
            got = mine(x)
            what = f"{_signature('DenseBlock', args, kwargs)} output in {mode} mode (reference weights loaded {how})"
            expected = outs[mode]
            rule = ("each layer gets torch.cat([x, new1, …, new(i−1)], dim=1) and the block returns "
                    "torch.cat([x, new1, …, newL], dim=1), in this order")
            hint = rule
            if isinstance(got, torch.Tensor) and got.shape == expected.shape and not _close(got, expected):
                for i in range(num_layers + 1):
                    lo, hi = (0, c0) if i == 0 else (c0 + (i - 1) * k, c0 + i * k)
                    if not _close(got[:, lo:hi], expected[:, lo:hi]):
                        part = "the input x" if i == 0 else f"denselayer{i}'s new maps"
                        hint = (f"channels {lo}..{hi - 1} ({part}) are the first that differ (if the DenseLayer "
                                f"tests fail too, fix DenseLayer first); {rule}" +
                                ("; a layer must see all earlier maps, not only the previous layer's" if i > 1 else ""))
                        break
            assert_same_output(got, expected, what, atol=ATOL, rtol=RTOL, hint=hint)


# --------------------------------------------------------------------------------------------------------------------
# dense_channels
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.points(2)
@pytest.mark.exercise("dense_channels")
def test_dense_channels(student):
    """dense_channels(in, L, k): channels grow linearly, in + L·k (an int)"""
    cases = [((64, 6, 32), 256), ((256, 24, 32), 1024), ((24, 0, 12), 24), ((3, 1, 1), 4),
             ((16, 100, 12), 1216), ((2, 50, 7), 352), ((1000, 3, 48), 1144)]
    dense_channels = student.dense_channels
    for args, expected in cases:
        got = dense_channels(*args)
        what = f"dense_channels{args}"
        if not isinstance(got, int) or isinstance(got, bool):
            fail(f"{what}: expected the int {expected:,}, got {got!r} ({type(got).__name__}).",
                 "return an int (a channel count), e.g. with integer arithmetic only")
        c, n, k = args
        if got == c * 2 ** n or (n and got == c * (1 + k / c) ** n):
            hint = ("that is geometric growth; a dense block appends growth_rate maps per layer, so the channels "
                    "grow linearly: in + L·k")
        elif got == c + (n - 1) * k:
            hint = "off by one layer: each of the L layers appends growth_rate maps"
        else:
            hint = "every layer appends growth_rate maps: in_channels + num_layers · growth_rate"
        assert_equal(what, got, expected, hint=hint)


# --------------------------------------------------------------------------------------------------------------------
# Transition
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.points(2)
@pytest.mark.exercise("transition")
@pytest.mark.confirmed_by("test_transition_matches_reference")
def test_transition_parameters(student, reference):
    """Transition(256, 128) has 33,280 parameters: BN + 1x1 conv without bias, torchvision's names"""
    build = student.Transition
    for args in [(256, 128), (7, 3)]:
        c, o = args
        what = f"Transition{args}"
        mine = call_on("meta", build, *args)
        if "Sequential" not in type_names(mine):
            fail(f"Transition is a subclass of {type_names(mine)[1:-1]}, not of nn.Sequential.",
                 "declare it as class Transition(nn.Sequential) and register norm, relu, conv, pool in this order: "
                 "the Sequential runs them in order, no forward needed")
        expected = 2 * c + c * o
        got, layout = _measure(mine)
        if got != expected:
            if got - expected == o:
                hint = "the 1x1 conv has a bias: use bias=False (BatchNorm in the next block has its own shift)"
            elif got == 2 * o + c * o:
                hint = "the BatchNorm comes before the conv, on the in_channels input: BN → ReLU → 1x1 conv → pool"
            else:
                hint = f"2·{c} (BatchNorm weight and bias) + {c}·{o} (1x1 conv in → out, no bias)"
            assert_param_count(what, mine, expected, hint=hint)
        _check_layout(what, layout, _ref_layout(reference, "Transition", *args), _layout_hint)


@pytest.mark.points(3)
@pytest.mark.exercise("transition")
def test_transition_matches_reference(student, reference, device):
    """Transition is BN → ReLU → 1x1 conv → 2x2 average pooling (stride 2), in eval and in train mode"""
    for args, shape in [((12, 6), (2, 12, 8, 8)), ((6, 3), (1, 6, 7, 9))]:
        ref, x, outs = _ref_case(reference, "Transition", args, {}, shape, device)
        mine, how = _student_on(student, "Transition", args, {}, device, ref)
        for mode in ("eval", "train"):
            getattr(mine, mode)()
            got = mine(x)
            what = f"Transition{args} on an input of shape {tuple(shape)}, {mode} mode (weights loaded {how})"
            no_relu = ("the ReLU is missing: the transition is BN → ReLU → 1x1 conv → pool (the lecture's slide "
                       "leaves the ReLU out; torchvision and the paper have it)")
            max_pool = ("that is max pooling: the transition uses 2x2 average pooling "
                        "(nn.AvgPool2d(kernel_size=2, stride=2))")
            both = ("the ReLU is missing and the pooling is max instead of average: "
                    "BN → ReLU → 1x1 conv → 2x2 average pool")
            diag = _diagnose(got, outs[mode], ref, mode, lambda r: [
                (F.avg_pool2d(r.conv(r.norm(x)), 2), no_relu),
                (F.max_pool2d(r.conv(F.relu(r.norm(x))), 2), max_pool),
                (F.max_pool2d(r.conv(r.norm(x)), 2), both),
            ])
            expected = outs[mode]
            if isinstance(got, torch.Tensor) and got.dim() == 4 and tuple(got.shape) != tuple(expected.shape):
                hint = ("2x2 average pooling with stride 2 halves height and width (flooring odd sizes): "
                        "nn.AvgPool2d(kernel_size=2, stride=2)")
                if got.shape[1] != expected.shape[1]:
                    hint = "the 1x1 conv maps in_channels to out_channels"
                assert_same_output(got, expected, what, hint=hint)
            assert_same_output(got, expected, what, atol=ATOL, rtol=RTOL,
                               hint=diag or "children in this order: norm (BatchNorm2d), relu (ReLU), conv (1x1, no "
                                            "bias), pool (AvgPool2d 2x2, stride 2)")


# --------------------------------------------------------------------------------------------------------------------
# DenseNet
# --------------------------------------------------------------------------------------------------------------------
def _torchvision_layout():
    def build():
        if not TORCHVISION.exists():
            return None
        data = json.loads(TORCHVISION.read_text())
        return data["num_params"], [(k, tuple(s), d) for k, s, d in data["state_dict"]]
    return _cached(("torchvision", str(TORCHVISION)), build)


def _student_densenet121(student) -> dict:
    """describe() of the student's densenet121() built on meta, once per submission."""
    def build():
        mine = _run_meta(lambda: call_on("meta", student.densenet121), "densenet121() built on the meta device",
                         "create every layer with the constructor's arguments; nothing on a fixed device")
        return describe(mine)
    return _student_cached(student, "densenet121", build)


@pytest.mark.points(3)
@pytest.mark.exercise("densenet")
@pytest.mark.confirmed_by("test_densenet_matches_reference")
def test_densenet121_parameters(student):
    """densenet121() has 7,978,856 parameters, about a third of ResNet-50's 25.6M"""
    got = int(_student_densenet121(student)["num_params"])
    expected = 7_978_856
    if got != expected:
        diff = got - expected
        if 0 < diff <= 10_240 and diff % 32 == 0:
            hint = ("the difference looks like convolution biases: every convolution in DenseNet uses "
                    "bias=False (a BatchNorm with its own shift follows)")
        else:
            hint = ("growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4; each "
                    "transition halves the channels; no transition after the last block")
        fail(f"densenet121(): parameter count {got:,} ≠ {expected:,} (difference {diff:+,}).", hint)


@pytest.mark.points(3)
@pytest.mark.exercise("densenet")
@pytest.mark.confirmed_by("test_densenet_matches_reference")
def test_densenet121_state_dict(student, reference):
    """densenet121 keeps torchvision's state_dict keys, order and shapes (727 entries, BN buffers included)"""
    layout = [(k, tuple(shape), d) for k, shape, d in _student_densenet121(student)["state_dict"]]
    tv = _torchvision_layout()
    expected = tv[1] if tv is not None else _ref_layout(reference, "densenet121")
    _check_layout("densenet121 state_dict", layout, expected, _layout_hint)
    dtypes = [(k, d) for (k, _, d), (_, _, e) in zip(layout, expected) if d != e]
    if dtypes:
        fail(f"densenet121 state_dict: {dtypes[0][0]} has dtype {dtypes[0][1]}, torchvision's is float32/int64 "
             f"as built.", "build the model with the default dtype (float32); BatchNorm's num_batches_tracked is int64")


@pytest.mark.points(2)
@pytest.mark.exercise("densenet")
@pytest.mark.confirmed_by("test_densenet_matches_reference")
def test_densenet_channel_bookkeeping(student, reference):
    """DenseNet(growth_rate=12, block_config=(3, 2, 4), 24 initial features, bn_size=2): each transition halves"""
    kwargs = {"growth_rate": 12, "block_config": (3, 2, 4), "num_init_features": 24, "bn_size": 2, "num_classes": 7}
    what = _signature("DenseNet", (), kwargs)
    mine = _run_meta(lambda: call_on("meta", student.DenseNet, **kwargs), f"{what} built on the meta device",
                     "use the constructor's arguments (by keyword too) for every layer")
    layout = state_dict_layout(mine)
    blocks = [k.split(".")[1] for k, _, _ in layout if k.startswith("features.") and k.count(".") >= 3]
    seen = list(dict.fromkeys(b for b in blocks if b.startswith(("denseblock", "transition"))))
    expected = ["denseblock1", "transition1", "denseblock2", "transition2", "denseblock3"]
    assert_equal(f"{what}: dense blocks and transitions in features", seen, expected,
                 hint="one denseblock per entry of block_config, a transition after every block but the last, "
                      "then norm5")
    _check_layout(f"{what} state_dict", layout, _ref_layout(reference, "DenseNet", **kwargs), _layout_hint)


@pytest.mark.points(4)
@pytest.mark.exercise("densenet")
def test_densenet_matches_reference(student, reference, device):
    """A small DenseNet computes features → ReLU → global average pool → classifier, in eval and in train mode"""
    for args, kwargs, shape in [((6, (2, 2, 3), 10, 3, 10), {}, (2, 3, 32, 32)),
                                ((4, (2, 3), 8, 2, 5), {}, (1, 3, 35, 29))]:
        ref, x, outs = _ref_case(reference, "DenseNet", args, kwargs, shape, device)
        mine, how = _student_on(student, "DenseNet", args, kwargs, device, ref)
        for mode in ("eval", "train") if shape[0] > 1 else ("eval",):
            getattr(mine, mode)()
            got = mine(x)
            what = f"{_signature('DenseNet', args, kwargs)} on {tuple(shape)}, {mode} mode (weights loaded {how})"
            diag = _diagnose(got, outs[mode], ref, mode, lambda r: [
                    (r.classifier(torch.flatten(F.adaptive_avg_pool2d(r.features(x), 1), 1)),
                     "the ReLU after norm5 is missing: forward is features → F.relu → adaptive average pool to 1x1 "
                     "→ flatten → classifier (norm5 is a BatchNorm, the ReLU follows it)"),
                    (r.classifier(torch.flatten(F.adaptive_max_pool2d(F.relu(r.features(x)), 1), 1)),
                     "that is max pooling at the end: DenseNet uses global average pooling (adaptive_avg_pool2d)"),
            ])
            assert_same_output(got, outs[mode], what, atol=ATOL, rtol=RTOL,
                               hint=diag or "features (conv0 norm0 relu0 pool0, blocks and transitions, norm5) → "
                                            "ReLU → adaptive average pool to 1x1 → flatten → classifier; if the "
                                            "DenseLayer, DenseBlock or Transition tests fail, fix those first")


@pytest.mark.points(2)
@pytest.mark.exercise("densenet")
def test_densenet_runs_on_meta(student):
    """DenseNet (blocks, transitions, forward) runs on any device (meta): no tensors created on a fixed device"""
    hint = ("create new tensors on the input's device (x.new_zeros, torch.zeros_like or device=x.device), or better "
            "build the output with torch.cat of the feature maps; never a hard-coded 'cpu'/'cuda'")
    what = "DenseNet(4, (2, 1), 8, 2, num_classes=10)"
    model = _run_meta(lambda: call_on("meta", student.DenseNet, 4, (2, 1), 8, 2, num_classes=10),
                      f"{what} built on meta", hint)
    out = _run_meta(lambda: model(torch.empty(2, 3, 32, 32, device="meta")), f"{what} forward on meta", hint)
    assert_tensor(f"{what} on a meta input of shape (2, 3, 32, 32)", out, shape=(2, 10), device="meta", hint=hint)
