"""Hidden tests for the DenseNet assignment (DenseLayer, DenseBlock, dense_channels, Transition, DenseNet).

Forward comparisons run in float64 with the reference's BatchNorm parameters and running statistics
randomised, so that an eval-mode BatchNorm is not the identity and a misplaced or missing BN/ReLU shows.
Reference modules, inputs and outputs are built once per (config, device) and reused for every submission.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grader.checks import (
    FLOAT64, REFERENCE, TORCHVISION, CheckFailed, ResultCache, assert_equal, assert_same_dtypes,
    assert_same_layout,
    assert_same_output, assert_tensor, call_keeping_inputs, call_on, close, count_failure, describe, diagnose,
    fail, generator, layout_of, measure, on_meta, passes_through, reference_case, reference_layout, signature,
    state_dict_layout, torchvision_model, type_names, with_reference_weights)
from grader.checks.composite import (carried_forward, count_given_parts, layout_given_parts, note,
                                     outputs_given_parts, part_paths)
from grader.i18n import messages
from grader.sandbox.client import StudentRaised

_, _n = messages("densenet")
_cache = ResultCache()
_cached, _student_cached = _cache.once, _cache.per_submission
MODES = ("eval", "train")


def _ref_case(reference, name: str, args: tuple, kwargs: dict, shape: tuple, device: str):
    """(reference module on device in float64, input, {"eval": out, "train": out}); computed once."""
    return _cached((name, args, tuple(kwargs.items()), shape, device), lambda: reference_case(
        lambda: getattr(reference, name)(*args, **kwargs), shape, device))


def _ref_layout(reference, name: str, *args, **kwargs):
    return _cached(("layout", name, args, tuple(kwargs.items())),
                   lambda: reference_layout(lambda: getattr(reference, name)(*args, **kwargs)))


def _in_mode(mode: str) -> str:
    return _("eval mode") if mode == "eval" else _("train mode")


def _weights_loaded(how: str, reference: bool = False) -> str:
    """How ``with_reference_weights`` loaded the weights ("by name" / "by shape"), as a phrase."""
    if reference:
        return {"by name": _("reference weights loaded by name"),
                "by shape": _("reference weights loaded by shape")}.get(
            how, _("reference weights loaded {how}", how=how))
    return {"by name": _("weights loaded by name"), "by shape": _("weights loaded by shape")}.get(
        how, _("weights loaded {how}", how=how))


def _check_layout(what: str, mine: list, expected: list, against: str = REFERENCE) -> None:
    assert_same_layout(what, mine, expected, _layout_hint,
                       _("register the submodules in torchvision's order (the order of assignment in "
                         "__init__ is the order of the state_dict), e.g. norm1, relu1, conv1, norm2, relu2, "
                         "conv2"),
                       against)


def _student_on(student, name: str, args: tuple, kwargs: dict, device: str, ref):
    """The student's module on ``device`` in float64 with the reference's weights; returns (module, how)."""
    mine = getattr(student, name)(*args, **kwargs)
    mine.to(device, torch.float64)
    return mine, with_reference_weights(mine, ref, lambda m, e: _check_layout(
        _("{module}: the reference's weights cannot be loaded; its state_dict",
          module=signature(name, args, kwargs)), m, e))


def _compare_modes(student, reference, device, name, cases, variants, hint, modes=lambda shape: MODES,
                   parts=None):
    """Each (args, kwargs, shape) case with the reference's weights, in eval and train mode: yields (args,
    kwargs, shape, mode, how, output, expected output, likely cause), the cause from ``variants(x)(r)``.
    With ``parts`` (ref → {path: (class, args, kwargs)}), a case the student's module computes as the
    reference built from the student's own parts is not yielded: it passes, with the carried-forward note."""
    for args, kwargs, shape in cases:
        ref, x, outs = _ref_case(reference, name, args, kwargs, shape, device)
        try:
            mine, how = _student_on(student, name, args, kwargs, device, ref)
        except CheckFailed:
            if parts is None:
                raise
            mine = how = None   # judged given its parts below, or this failure comes again there
        for mode in modes(shape):
            got = None
            try:
                if mine is not None:
                    getattr(mine, mode)()
                    got = mine(x)
            except StudentRaised as err:
                if parts is None or passes_through(err):
                    raise
            if parts is not None and not close(got, outs[mode]):
                wrong: set[str] = set()
                if _right_given_parts(student, name, args, kwargs, ref, x, mode, parts(ref), wrong):
                    note(carried_forward(name, wrong or {cls for cls, _, _ in parts(ref).values()}))
                    continue
                if mine is None:
                    _student_on(student, name, args, kwargs, device, ref)   # fails, saying why
                got = mine(x) if got is None else got
            cause = diagnose(got, outs[mode], ref, mode, variants(x)) or hint
            yield args, kwargs, shape, mode, how, got, outs[mode], cause


def _right_given_parts(student, name, args, kwargs, ref, x, mode, specs, wrong: set[str]) -> bool:
    """The student's module computes what the reference wiring computes built from the student's own parts
    (``specs``: {path: (class, args, kwargs)}), the same weights in both; names a part that does not run."""
    def build(cls, a, kw):
        module = getattr(student, cls)(*a, **kw)
        module.to(x.device.type, torch.float64)
        return module
    try:
        mine = build(name, args, kwargs)
    except StudentRaised as err:
        if passes_through(err):
            raise
        return False
    return close(*outputs_given_parts(name, mine, ref, ref.state_dict(), lambda: {
        p: build(*spec) for p, spec in specs.items()}, x, torch.float64, 7, wrong, mode == "train"))


def _block_spec(block) -> tuple:
    layer = block.denselayer1
    k = layer.conv2.out_channels
    return "DenseBlock", (len(block), layer.norm1.num_features, k), {"bn_size": layer.conv1.out_channels // k}


def _network_parts(ref) -> dict:
    """{path: (class, args, kwargs)} of the dense blocks and transitions the reference DenseNet builds."""
    return {p: _block_spec(m) if type(m).__name__ == "DenseBlock" else
            ("Transition", (m.norm.num_features, m.conv.out_channels), {})
            for p in part_paths(ref, ("DenseBlock", "Transition")) for m in [ref.get_submodule(p)]}


def _block_parts(ref) -> dict:
    """{path: (class, args, kwargs)} of the dense layers the reference DenseBlock builds."""
    return {p: ("DenseLayer", (m.norm1.num_features, m.conv2.out_channels),
                {"bn_size": m.conv1.out_channels // m.conv2.out_channels})
            for p in part_paths(ref, ("DenseLayer",)) for m in [ref.get_submodule(p)]}


def _by_channels(out: torch.Tensor, causes: list[tuple[int, str]], default: str) -> str:
    """The cause of a wrong output shape, looked up by its number of channels (first match)."""
    return next((cause for channels, cause in causes if out.dim() == 4 and out.shape[1] == channels), default)


def _layout_hint(missing, extra, wrong) -> str:
    if any(k.endswith("bias") and "conv" in k for k in extra):
        return _("a convolution has a bias: every convolution in DenseNet uses bias=False, because a "
                 "BatchNorm with its own shift follows it")
    if any("transition" in k and "transition" not in " ".join(missing) for k in extra):
        return _("no transition after the last dense block: norm5 follows the last denseblock directly")
    if any(k.split(".")[-2:-1] in (["conv1"], ["norm2"]) for k in missing):
        return _("the 1x1 bottleneck is missing: a dense layer is BN → ReLU → 1x1 conv (in → bn_size·k) → "
                 "BN → ReLU → 3x3 conv (bn_size·k → k)")
    if missing and all("running" in k or "num_batches" in k for k in missing):
        return _("use nn.BatchNorm2d with its defaults (running statistics are part of the state_dict)")
    k = wrong[0][0] if wrong else ""
    if "transition" in k:
        return _("wrong channel bookkeeping: each transition halves the channels, Transition(c, c // 2), and "
                 "the next block starts from that halved width")
    if "norm5" in k or "classifier" in k:
        return _("wrong channel bookkeeping: norm5 and the classifier see the channels leaving the last "
                 "block (dense_channels of it; no halving after the last block)")
    if "conv1" in k or "norm2" in k or k.endswith("conv2.weight"):
        return _("the bottleneck has bn_size · growth_rate channels: conv1 is 1x1 in → bn_size·k, conv2 is "
                 "3x3 bn_size·k → k (pass bn_size on to every DenseLayer)")
    if "norm1" in k:
        return _("layer i of a block sees in_channels + (i − 1)·growth_rate channels (the concatenation of "
                 "the block input and every earlier layer's k new maps), and each block starts from the "
                 "width the transition before it produced")
    if "conv0" in k or "norm0" in k:
        return _("conv0 is a 7x7 conv, stride 2, 3 → num_init_features, no bias")
    return _("keep torchvision's names and order: features.conv0 norm0 relu0 pool0 denseblock1 transition1 "
             "… denseblock4 norm5, denselayer1..N with norm1 relu1 conv1 norm2 relu2 conv2, transitions with "
             "norm relu conv pool")


def _dense_layer_params(c: int, k: int, b: int) -> int:
    return 2 * c + c * b * k + 2 * b * k + 9 * b * k * k


# ------------------------------ DenseLayer ------------------------------------------------------
@pytest.mark.points(3)
@pytest.mark.exercise("dense_layer")
@pytest.mark.confirmed_by("test_dense_layer_matches_reference")
def test_dense_layer_parameters(student, reference):
    """DenseLayer: BN-ReLU-1x1 (bn_size·k)-BN-ReLU-3x3, no bias: parameter counts and torchvision names"""
    for args, kwargs in [((64, 32), {}), ((100, 12), {"bn_size": 2}), ((7, 5), {"bn_size": 1})]:
        (c, k), b = args, kwargs.get("bn_size", 4)
        what = signature("DenseLayer", args, kwargs)
        got, layout = measure(call_on("meta", student.DenseLayer, *args, **kwargs))
        expected = _dense_layer_params(c, k, b)
        if got - expected in (b * k, k, b * k + k):
            hint = _("a convolution has a bias: DenseNet's convs use bias=False (BatchNorm follows with its "
                     "own shift); the difference is exactly the conv biases")
        elif got == 2 * c + 9 * c * k:
            hint = _("the 1x1 bottleneck is missing: first a 1x1 conv to bn_size·growth_rate channels (채널 "
                     "방향 차원 축소), then the 3x3 conv to growth_rate")
        elif got in (_dense_layer_params(c, k, 4), _dense_layer_params(c, k, 1)):
            hint = _("the bottleneck width is bn_size · growth_rate: use the bn_size argument, not a "
                     "constant")
        else:
            hint = _("expected 2·{c} (norm1) + {c}·{width} (1x1 conv1) + 2·{width} (norm2) + 3·3·{width}·{k} "
                     "(3x3 conv2), convs without bias", c=c, width=b * k, k=k)
        if got != expected:
            count_failure(what, got, expected, hint)
        _check_layout(what, layout, _ref_layout(reference, "DenseLayer", *args, **kwargs))


@pytest.mark.points(2)
@pytest.mark.exercise("dense_layer")
def test_dense_layer_returns_new_maps(student):
    """DenseLayer returns only the k new feature maps, same height and width, and leaves its input alone"""
    for args, kwargs, shape in [((16, 8), {}, (2, 16, 9, 9)), ((10, 6), {"bn_size": 2}, (1, 10, 5, 7)),
                                ((6, 6), {"bn_size": 1}, (3, 6, 4, 3))]:
        (c, k), b = args, kwargs.get("bn_size", 4)
        what = _("{module} on an input of shape {shape}", module=signature("DenseLayer", args, kwargs),
                 shape=shape)
        x = torch.randn(*shape, generator=generator(3))
        out, (x_after,) = call_keeping_inputs(student.DenseLayer(*args, **kwargs), x)
        assert_tensor(what, out, hint=_("forward must return a tensor: the k new maps"))
        assert_tensor(what, out, shape=(shape[0], k, shape[2], shape[3]), hint=_by_channels(out, [
            (c + k, _("you returned the concatenation [x, new maps]: a dense layer returns only its "
                      "growth_rate new maps; concatenating them is the DenseBlock's job")),
            (b * k, _("the 3x3 conv2 (bn_size·k → k) is missing at the end")),
            (k, _("the 3x3 conv keeps height and width only with padding=1 (and stride 1)"))],
            _("the layer returns growth_rate maps of the input's height and width")))
        if not torch.equal(x_after, x):
            fail(_("{what}: your forward changed its input x in place (max change {change:.3g}).",
                   what=what, change=(x_after - x).abs().max().item()),
                 _("an in-place ReLU (inplace=True) must act on norm1's output, never on x itself: x is the "
                   "block's stored feature map"))


@pytest.mark.points(3)
@pytest.mark.exercise("dense_layer")
def test_dense_layer_matches_reference(student, reference, device):
    """DenseLayer computes conv2(relu2(norm2(conv1(relu1(norm1(x)))))), in eval and in train mode"""
    variants = lambda x: lambda r: [  # noqa: E731
        (r.conv2(F.relu(r.norm2(r.conv1(r.norm1(x))))), _("relu1 (the ReLU after norm1) is missing")),
        (r.conv2(r.norm2(r.conv1(F.relu(r.norm1(x))))), _("relu2 (the ReLU after norm2) is missing"))]
    cases = [((16, 8), {}, (2, 16, 9, 9)), ((10, 6), {"bn_size": 2}, (1, 10, 5, 7))]
    for args, kwargs, shape, mode, how, got, expected, hint in _compare_modes(
            student, reference, device, "DenseLayer", cases, variants,
            _("the order is BN → ReLU → 1x1 conv → BN → ReLU → 3x3 conv (padding 1), pre-activation as in "
              "ResNet v2; return only the new maps")):
        what = _("{module} output in {mode} ({weights})", module=signature("DenseLayer", args, kwargs),
                 mode=_in_mode(mode), weights=_weights_loaded(how, reference=True))
        assert_same_output(got, expected, what, hint=hint, **FLOAT64)


# ------------------------------ DenseBlock ------------------------------------------------------
@pytest.mark.points(3)
@pytest.mark.exercise("dense_block")
def test_dense_block_concatenates(student):
    """DenseBlock concatenates [x, new1, …, newL] along the channels: c0 + L·k channels, input unchanged"""
    for args, kwargs, shape in [((3, 8, 8), {}, (2, 8, 6, 6)), ((4, 10, 3), {"bn_size": 2}, (1, 10, 5, 7)),
                                ((2, 6, 4), {}, (3, 6, 9, 4))]:
        num_layers, c0, k = args
        what = _("{module} on an input of shape {shape}", module=signature("DenseBlock", args, kwargs),
                 shape=shape)
        mine = student.DenseBlock(*args, **kwargs)
        mine.eval()
        x = torch.randn(*shape, generator=generator(4))
        out, (x_after,) = call_keeping_inputs(mine, x)
        assert_tensor(what, out,
                      hint=_("forward must return one tensor: torch.cat of all feature maps, dim=1"))
        expected = (shape[0], c0 + num_layers * k, shape[2], shape[3])
        assert_tensor(what, out, shape=expected, hint=_by_channels(out, [
            (c0, _("the output has as many channels as the input: that is ResNet's addition x + F(x). "
                   "DenseNet concatenates instead: torch.cat([x, new1, …, newL], dim=1)")),
            (num_layers * k, _("the block's input x is missing from the concatenation: the output starts "
                               "with x itself")),
            (k, _("you returned only the last layer's new maps: concatenate x and every layer's new maps"))],
            _("every layer appends growth_rate maps to the concatenation: c0 + L·k channels")))
        if not torch.equal(x_after, x):
            fail(_("{what}: your forward changed its input x in place.", what=what),
                 _("never modify x: it is part of the block's output (use torch.cat, and in-place ReLUs only "
                   "on BatchNorm outputs)"))
        if not torch.equal(out[:, :c0], x):
            fail(_("{what}: output channels 0..{last} are not the block's input x (max difference "
                   "{difference:.3g}).", what=what, last=c0 - 1,
                   difference=(out[:, :c0] - x).abs().max().item()),
                 _("the input sits at the end: the order is [x, new1, new2, …] — x first, then each layer's "
                   "new maps in the order the layers run (wrong concatenation order)")
                 if torch.equal(out[:, -c0:], x) else
                 _("the first c0 output channels must be the input itself, unchanged: DenseNet concatenates "
                   "[x, new1, …] and adds nothing to x (concatenation, not addition)"))
        try:
            new1 = mine.denselayer1(x)
        except StudentRaised:  # children names are checked by test_dense_block_layers
            continue
        if isinstance(new1, torch.Tensor) and new1.shape == out[:, c0:c0 + k].shape and not torch.allclose(
                out[:, c0:c0 + k], new1, atol=1e-5, rtol=1e-4):
            fail(_("{what}: output channels {first}..{last} are not denselayer1's new maps of x.",
                   what=what, first=c0, last=c0 + k - 1),
                 _("wrong concatenation order: after x come denselayer1's k maps, then denselayer2's, …; "
                   "each layer is fed torch.cat([x, new1, …], dim=1) in that order"))


@pytest.mark.points(2)
@pytest.mark.exercise("dense_block")
@pytest.mark.confirmed_by("test_dense_block_matches_reference")
def test_dense_block_layers(student, reference):
    """DenseBlock: children denselayer1..L; layer i sees c0 + (i−1)·k channels; denseblock1: 335,040 params"""
    mine = call_on("meta", student.DenseBlock, 6, 64, 32)
    if "ModuleDict" not in type_names(mine):
        fail(_("DenseBlock is a subclass of {bases}, not of nn.ModuleDict.", bases=type_names(mine)[1:-1]),
             _("declare it as class DenseBlock(nn.ModuleDict), as torchvision's _DenseBlock, and add the "
               "layers as its entries denselayer1..N"))
    info = describe(mine)
    assert_equal(_("DenseBlock(6, 64, 32) children"), [name for name, _child in info["children"]],
                 [f"denselayer{i}" for i in range(1, 7)],
                 hint=_("add the layers with self.add_module(f'denselayer{i + 1}', layer), numbered from 1"))
    got = int(info["num_params"])
    given = {args: _block_given_layers(student, reference, args, kwargs)
             for args, kwargs in [((6, 64, 32), {}), ((4, 10, 6), {"bn_size": 3})]}
    if got == 6 * _dense_layer_params(64, 32, 4):
        fail(_("DenseBlock(6, 64, 32) (densenet121's denseblock1): parameter count {got:,} ≠ 335,040 (six "
               "copies of DenseLayer(64, 32)).", got=got),
             _("every layer was built for in_channels inputs: layer i sees in_channels + (i − 1)·growth_rate "
               "channels, because the block concatenates (it does not add)"))
    for args, kwargs in [((6, 64, 32), {}), ((4, 10, 6), {"bn_size": 3})]:
        layout = layout_of(info) if args == (6, 64, 32) else state_dict_layout(
            call_on("meta", student.DenseBlock, *args, **kwargs))
        expected = _ref_layout(reference, "DenseBlock", *args, **kwargs)
        if layout != expected and layout == given[args][1]:
            note(carried_forward(signature("DenseBlock", args, kwargs), ["DenseLayer"], "state_dict"))
            expected = layout
        _check_layout(signature("DenseBlock", args, kwargs), layout, expected)
    if got not in (335_040, given[(6, 64, 32)][0]):  # the reference's layout but other parameters
        fail(_("DenseBlock(6, 64, 32): parameter count {got:,} ≠ 335,040.", got=got),
             _("layer i is DenseLayer(in_channels + (i − 1)·growth_rate, growth_rate, bn_size), nothing "
               "else"))


def _block_given_layers(student, reference, args, kwargs) -> tuple[int, list]:
    """(count, layout) of the reference DenseBlock built from the student's own DenseLayer (on meta)."""
    def build():
        ref = call_on("meta", reference.DenseBlock, *args, **kwargs)
        measured = {p: measure(call_on("meta", getattr(student, cls), *a, **kw))
                    for p, (cls, a, kw) in _block_parts(ref).items()}
        return (count_given_parts(ref, {p: n for p, (n, _) in measured.items()}),
                layout_given_parts(state_dict_layout(ref), {p: lay for p, (_, lay) in measured.items()}))
    try:
        return _student_cached(student, ("block-given", args, tuple(kwargs.items())), build)
    except StudentRaised as err:
        if passes_through(err):
            raise
        return -1, []


@pytest.mark.points(4)
@pytest.mark.exercise("dense_block")
def test_dense_block_matches_reference(student, reference, device):
    """DenseBlock equals the reference (each layer fed the concatenation so far), in eval and train mode"""
    rule = _("each layer gets torch.cat([x, new1, …, new(i−1)], dim=1) and the block returns torch.cat([x, "
             "new1, …, newL], dim=1), in this order")
    cases = [((3, 16, 8), {}, (2, 16, 9, 9)), ((2, 5, 5), {"bn_size": 1}, (1, 5, 7, 6))]
    for args, kwargs, shape, mode, how, got, expected, hint in _compare_modes(
            student, reference, device, "DenseBlock", cases, lambda x: lambda r: [], rule,
            parts=_block_parts):
        num_layers, c0, k = args
        what = _("{module} output in {mode} ({weights})", module=signature("DenseBlock", args, kwargs),
                 mode=_in_mode(mode), weights=_weights_loaded(how, reference=True))
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and not close(got, expected):
            for i in range(num_layers + 1):
                lo, hi = (0, c0) if i == 0 else (c0 + (i - 1) * k, c0 + i * k)
                if not close(got[:, lo:hi], expected[:, lo:hi]):
                    part = _("the input x") if i == 0 else _("denselayer{i}'s new maps", i=i)
                    where = {"first": lo, "last": hi - 1, "part": part, "rule": rule}
                    hint = (_("channels {first}..{last} ({part}) are the first that differ (if the "
                              "DenseLayer tests fail too, fix DenseLayer first); {rule}; a layer must see "
                              "all earlier maps, not only the previous layer's", **where) if i > 1 else
                            _("channels {first}..{last} ({part}) are the first that differ (if the "
                              "DenseLayer tests fail too, fix DenseLayer first); {rule}", **where))
                    break
        assert_same_output(got, expected, what, hint=hint, **FLOAT64)


# ------------------------------ dense_channels --------------------------------------------------
@pytest.mark.points(2)
@pytest.mark.exercise("dense_channels")
def test_dense_channels(student):
    """dense_channels(in, L, k): channels grow linearly, in + L·k (an int)"""
    cases = [((64, 6, 32), 256), ((256, 24, 32), 1024), ((24, 0, 12), 24), ((3, 1, 1), 4),
             ((16, 100, 12), 1216), ((2, 50, 7), 352), ((1000, 3, 48), 1144)]
    dense_channels = student.dense_channels
    for (c, n, k), expected in cases:
        got = dense_channels(c, n, k)
        what = f"dense_channels{(c, n, k)}"
        if not isinstance(got, int) or isinstance(got, bool):
            fail(_("{what}: expected the int {expected:,}, got {got!r} ({type_name}).", what=what,
                   expected=expected, got=got, type_name=type(got).__name__),
                 _("return an int (a channel count), e.g. with integer arithmetic only"))
        if got == c * 2 ** n or (n and got == c * (1 + k / c) ** n):
            hint = _("that is geometric growth; a dense block appends growth_rate maps per layer, so the "
                     "channels grow linearly: in + L·k")
        elif got == c + (n - 1) * k:
            hint = _("off by one layer: each of the L layers appends growth_rate maps")
        else:
            hint = _("every layer appends growth_rate maps: in_channels + num_layers · growth_rate")
        assert_equal(what, got, expected, hint=hint)


# ------------------------------ Transition ------------------------------------------------------
@pytest.mark.points(2)
@pytest.mark.exercise("transition")
@pytest.mark.confirmed_by("test_transition_matches_reference")
def test_transition_parameters(student, reference):
    """Transition(256, 128) has 33,280 parameters: BN + 1x1 conv without bias, torchvision's names"""
    for c, o in [(256, 128), (7, 3)]:
        what = f"Transition{(c, o)}"
        mine = call_on("meta", student.Transition, c, o)
        if "Sequential" not in type_names(mine):
            fail(_("Transition is a subclass of {bases}, not of nn.Sequential.",
                   bases=type_names(mine)[1:-1]),
                 _("declare it as class Transition(nn.Sequential) and register norm, relu, conv, pool in "
                   "this order: the Sequential runs them in order, no forward needed"))
        got, layout = measure(mine)
        expected = 2 * c + c * o
        if got != expected:
            count_failure(what, got, expected, {
                expected + o: _("the 1x1 conv has a bias: use bias=False (BatchNorm in the next block has "
                                "its own shift)"),
                2 * o + c * o: _("the BatchNorm comes before the conv, on the in_channels input: BN → ReLU → "
                                 "1x1 conv → pool"),
            }.get(got, _("2·{c} (BatchNorm weight and bias) + {c}·{o} (1x1 conv in → out, no bias)",
                         c=c, o=o)))
        _check_layout(what, layout, _ref_layout(reference, "Transition", c, o))


@pytest.mark.points(3)
@pytest.mark.exercise("transition")
def test_transition_matches_reference(student, reference, device):
    """Transition is BN → ReLU → 1x1 conv → 2x2 average pooling (stride 2), in eval and in train mode"""
    variants = lambda x: lambda r: [  # noqa: E731
        (F.avg_pool2d(r.conv(r.norm(x)), 2), _("the ReLU is missing: the transition is BN → ReLU → 1x1 conv "
                                               "→ pool (the lecture's slide leaves the ReLU out; torchvision "
                                               "and the paper have it)")),
        (F.max_pool2d(r.conv(F.relu(r.norm(x))), 2), _("that is max pooling: the transition uses 2x2 average "
                                                       "pooling (nn.AvgPool2d(kernel_size=2, stride=2))")),
        (F.max_pool2d(r.conv(r.norm(x)), 2), _("the ReLU is missing and the pooling is max instead of "
                                               "average: BN → ReLU → 1x1 conv → 2x2 average pool"))]
    cases = [((12, 6), {}, (2, 12, 8, 8)), ((6, 3), {}, (1, 6, 7, 9))]
    for args, kwargs, shape, mode, how, got, expected, hint in _compare_modes(
            student, reference, device, "Transition", cases, variants,
            _("children in this order: norm (BatchNorm2d), relu (ReLU), conv (1x1, no bias), pool (AvgPool2d "
              "2x2, stride 2)")):
        module = f"Transition{args}"
        what = _("{module} on an input of shape {shape}, {mode} ({weights})", module=module, shape=shape,
                 mode=_in_mode(mode), weights=_weights_loaded(how))
        if isinstance(got, torch.Tensor) and got.dim() == 4 and tuple(got.shape) != tuple(expected.shape):
            assert_same_output(got, expected, what, hint=_("the 1x1 conv maps in_channels to out_channels")
                               if got.shape[1] != expected.shape[1] else
                               _("2x2 average pooling with stride 2 halves height and width (flooring odd "
                                 "sizes): nn.AvgPool2d(kernel_size=2, stride=2)"))
        assert_same_output(got, expected, what, hint=hint, **FLOAT64)


# ------------------------------ DenseNet --------------------------------------------------------
def _student_densenet121(student) -> dict:
    """describe() of the student's densenet121() built on meta, once per submission."""
    return _student_cached(student, "densenet121", lambda: describe(on_meta(
        _("densenet121() built on the meta device"), lambda: call_on("meta", student.densenet121),
        _("create every layer with the constructor's arguments; nothing on a fixed device"))))


def _given_parts_121(student, reference, name: str = "densenet121", **kwargs) -> tuple[int, dict]:
    """(count, {path: layout}) of ``name(**kwargs)`` built by the reference wiring from the student's own
    DenseBlock and Transition (measured on meta in the sandbox), once per submission."""
    key = (name, tuple(kwargs.items()))

    def build():
        ref = _cached(("meta",) + key, lambda: call_on("meta", getattr(reference, name), **kwargs))
        measured = {p: measure(call_on("meta", getattr(student, cls), *a, **kw))
                    for p, (cls, a, kw) in _network_parts(ref).items()}
        return (count_given_parts(ref, {p: n for p, (n, _) in measured.items()}),
                {p: lay for p, (_, lay) in measured.items()})
    try:
        return _student_cached(student, ("given",) + key, build)
    except StudentRaised as err:
        if passes_through(err):
            raise
        return -1, {}


@pytest.mark.points(3)
@pytest.mark.exercise("densenet")
@pytest.mark.confirmed_by("test_densenet_matches_reference")
def test_densenet121_parameters(student, reference):
    """densenet121() has 7,978,856 parameters, about a third of ResNet-50's 25.6M"""
    got, expected = int(_student_densenet121(student)["num_params"]), 7_978_856
    if got != expected and got == _given_parts_121(student, reference)[0]:
        note(carried_forward("densenet121()", ["DenseBlock", "Transition"], _("parameter count")))
    elif got != expected:
        looks_like_biases = 0 < got - expected <= 10_240 and (got - expected) % 32 == 0
        count_failure("densenet121()", got, expected, _(
            "the difference looks like convolution biases: every convolution in DenseNet uses bias=False (a "
            "BatchNorm with its own shift follows)") if looks_like_biases
            else _("growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4; each "
                   "transition halves the channels; no transition after the last block"))


@pytest.mark.points(3)
@pytest.mark.exercise("densenet")
@pytest.mark.confirmed_by("test_densenet_matches_reference")
def test_densenet121_state_dict(student, reference):
    """densenet121 keeps torchvision's state_dict keys, order and shapes (727 entries, BN buffers included)"""
    layout = layout_of(_student_densenet121(student))
    tv = torchvision_model("densenet121")
    expected = tv[1] if tv is not None else _ref_layout(reference, "densenet121")
    given = layout != expected and layout_given_parts(expected, _given_parts_121(student, reference)[1])
    if layout == given:
        note(carried_forward("densenet121()", ["DenseBlock", "Transition"], "state_dict"))
        expected = given
    _check_layout("densenet121 state_dict", layout, expected, TORCHVISION if tv is not None else REFERENCE)
    assert_same_dtypes("densenet121 state_dict", layout, expected,
                       _("build the model with the default dtype (float32); BatchNorm's num_batches_tracked "
                         "is int64"), _("float32/int64 as built"))


@pytest.mark.points(2)
@pytest.mark.exercise("densenet")
@pytest.mark.confirmed_by("test_densenet_matches_reference")
def test_densenet_channel_bookkeeping(student, reference):
    """DenseNet(growth_rate=12, block_config=(3, 2, 4), 24 initial features, bn_size=2): transitions halve"""
    kwargs = {"growth_rate": 12, "block_config": (3, 2, 4), "num_init_features": 24, "bn_size": 2,
              "num_classes": 7}
    what = signature("DenseNet", (), kwargs)
    layout = state_dict_layout(on_meta(_("{module} built on the meta device", module=what),
                                       lambda: call_on("meta", student.DenseNet, **kwargs),
                                       _("use the constructor's arguments (by keyword too) for every layer")))
    blocks = [k.split(".")[1] for k, _s, _d in layout if k.startswith("features.") and k.count(".") >= 3]
    assert_equal(_("{module}: dense blocks and transitions in features", module=what),
                 list(dict.fromkeys(b for b in blocks if b.startswith(("denseblock", "transition")))),
                 ["denseblock1", "transition1", "denseblock2", "transition2", "denseblock3"],
                 hint=_("one denseblock per entry of block_config, a transition after every block but the "
                        "last, then norm5"))
    expected = _ref_layout(reference, "DenseNet", **kwargs)
    parts = _given_parts_121(student, reference, "DenseNet", **kwargs)[1] if layout != expected else {}
    given = layout != expected and layout_given_parts(expected, parts)
    if layout == given:
        note(carried_forward(what, ["DenseBlock", "Transition"], "state_dict"))
        expected = given
    _check_layout(f"{what} state_dict", layout, expected)


@pytest.mark.points(4)
@pytest.mark.exercise("densenet")
def test_densenet_matches_reference(student, reference, device):
    """A small DenseNet computes features → ReLU → global average pool → classifier, in eval and train mode"""
    variants = lambda x: lambda r: [  # noqa: E731
        (r.classifier(torch.flatten(F.adaptive_avg_pool2d(r.features(x), 1), 1)),
         _("the ReLU after norm5 is missing: forward is features → F.relu → adaptive average pool to 1x1 → "
           "flatten → classifier (norm5 is a BatchNorm, the ReLU follows it)")),
        (r.classifier(torch.flatten(F.adaptive_max_pool2d(F.relu(r.features(x)), 1), 1)),
         _("that is max pooling at the end: DenseNet uses global average pooling (adaptive_avg_pool2d)"))]
    cases = [((6, (2, 2, 3), 10, 3, 10), {}, (2, 3, 32, 32)), ((4, (2, 3), 8, 2, 5), {}, (1, 3, 35, 29))]
    for args, kwargs, shape, mode, how, got, expected, hint in _compare_modes(
            student, reference, device, "DenseNet", cases, variants,
            _("features (conv0 norm0 relu0 pool0, blocks and transitions, norm5) → ReLU → adaptive average "
              "pool to 1x1 → flatten → classifier; if the DenseLayer, DenseBlock or Transition tests fail, "
              "fix those first"),
            modes=lambda shape: MODES if shape[0] > 1 else ("eval",), parts=_network_parts):
        what = _("{module} on {shape}, {mode} ({weights})", module=signature("DenseNet", args), shape=shape,
                 mode=_in_mode(mode), weights=_weights_loaded(how))
        assert_same_output(got, expected, what, hint=hint, **FLOAT64)


@pytest.mark.points(2)
@pytest.mark.exercise("densenet")
def test_densenet_runs_on_meta(student):
    """DenseNet (blocks, transitions, forward) runs on any device (meta): no tensors made on a fixed device"""
    hint = _("create new tensors on the input's device (x.new_zeros, torch.zeros_like or device=x.device), "
             "or better build the output with torch.cat of the feature maps; never a hard-coded 'cpu'/'cuda'")
    what = "DenseNet(4, (2, 1), 8, 2, num_classes=10)"
    model = on_meta(_("{module} built on meta", module=what),
                    lambda: call_on("meta", student.DenseNet, 4, (2, 1), 8, 2, num_classes=10), hint)
    out = on_meta(_("{module} forward on meta", module=what),
                  lambda: model(torch.empty(2, 3, 32, 32, device="meta")), hint)
    assert_tensor(_("{module} on a meta input of shape (2, 3, 32, 32)", module=what), out, shape=(2, 10),
                  device="meta", hint=hint)
