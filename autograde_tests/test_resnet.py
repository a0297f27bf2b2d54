"""Hidden tests for the ResNet assignment (BasicBlock, Bottleneck, ResNet with resnet18/34/50).

Block comparisons run in float64 with the reference's BatchNorm parameters and running statistics randomised,
so that an eval-mode BatchNorm is not the identity and a misplaced BN, ReLU or addition shows; train mode
(BatchNorm with batch statistics) is compared too.

The whole resnet18(num_classes=10) is built on the meta device (no 11.7M-weight initialisation), materialised
with ``to_empty`` and filled with seeded weights whose large tensors are strided windows over small vectors:
under 1 MB crosses the sandbox boundary instead of 47 MB. It runs in float32 on CPU, in float64 on CUDA.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grader.checks import (
    FLOAT64, REFERENCE, TORCHVISION, CheckFailed, ResultCache, assert_equal, assert_same_dtypes,
    assert_same_layout, assert_same_output, assert_tensor, build_seeded, call_keeping_inputs, call_on, close,
    count_failure, diagnose, explained, fail, layout_differences, measure, on_meta, passes_through, randn,
    randomise_batchnorm, reference_case, reference_layout, signature, state_dict_layout, strided_weights,
    subset_sums,
    torchvision_model, with_reference_weights)
from grader.checks.composite import (carried_forward, count_given_parts, first_broken_part, fix_part_first,
                                     layout_given_parts, note, outputs_given_parts, part_paths)
from grader.i18n import N_, messages
from grader.sandbox.client import StudentRaised

_, _n = messages("resnet")

# likely causes shared by several checks: English here, translated where they are shown (_(SKIP_BASIC))
SKIP_BASIC = N_("the skip connection (identity map) is missing: out = relu(bn2(conv2(...)) + identity)")
SKIP_BOTTLENECK = N_("the skip connection (identity map) is missing: out = relu(bn3(conv3(...)) + identity)")
PROJECTION = N_("projection (1x1 conv + BN) missing where the shape changes: when stride != 1 or the "
                "channels change, x no longer fits F(x), so the shortcut is downsample(x) = BatchNorm2d(1x1 "
                "conv(x, stride), no bias), registered as downsample = nn.Sequential(conv, bn) (channel을 "
                "맞춰주기 위해서 1x1 Conv 사용), and forward adds downsample(x) instead of x")
RELU_BEFORE_ADD = N_("the ReLU is applied before the addition: the block adds the shortcut to the last "
                     "BatchNorm's output and only then applies the ReLU, out = relu(bn(conv(...)) + "
                     "identity)")
NO_FINAL_RELU = N_("the last ReLU is missing: after the addition comes a ReLU, out = relu(F(x) + identity)")
CONV_BIAS = N_("a convolution has a bias: every conv in ResNet uses bias=False (the BatchNorm after it has "
               "its own shift)")
CONV_BIAS_BASIC_64 = N_("a convolution has a bias: every conv in ResNet uses bias=False (the BatchNorm after "
                        "it has its own shift); 74,112 for BasicBlock(64, 64) means the two 3x3 convs have "
                        "biases")
LOADED = {"by name": N_("by name"), "by shape": N_("by shape")}
"""How ``with_reference_weights`` aligned the reference's weights, as a case label says it."""
MODES = {"eval": N_("eval mode"), "train": N_("train mode")}
OUTPUT_SHAPE = N_("the output is (batch, num_classes): avgpool to 1x1, torch.flatten(x, 1), then fc")

_cache = ResultCache()
_cached, _student_cached = _cache.once, _cache.per_submission


def _loaded(how: str | None) -> str:
    """How the reference's weights were loaded ("by name", "by shape"), in the run's language."""
    return _(LOADED[how]) if how in LOADED else str(how)


def _ref_layout(reference, name: str, args: tuple):
    return _cached(("layout", name, args), lambda: reference_layout(lambda: getattr(reference, name)(*args)))


def _shortcut(r, x):
    return r.downsample(x) if r.downsample is not None else x


def _basic_variants(x, stride):
    def variants(r):
        def branch(h, s1=stride, s2=1, relu1=True):
            h = r.bn1(F.conv2d(h, r.conv1.weight, stride=s1, padding=1))
            h = F.relu(h) if relu1 else h
            return r.bn2(F.conv2d(h, r.conv2.weight, stride=s2, padding=1))
        main, sc = branch(x), _shortcut(r, x)
        out = [(F.relu(main), _(SKIP_BASIC)),
               (F.relu(main) + sc, _(RELU_BEFORE_ADD)),
               (main + sc, _(NO_FINAL_RELU)),
               (F.relu(branch(x, relu1=False) + sc),
                _("the ReLU between bn1 and conv2 is missing: conv1 → bn1 → ReLU → conv2 → bn2, then + "
                  "identity → ReLU")),
               (F.relu(r.bn2(F.conv2d(F.relu(r.bn1(r.conv1(x))), r.conv2.weight, padding=1) + sc)),
                _("the shortcut is added before bn2: add it to bn2's output (Batch Norm 이 3x3 Conv 뒤에), "
                  "then ReLU"))]
        if stride != 1:
            out.append((F.relu(branch(x, s1=1, s2=stride) + sc),
                        _("the stride is on the wrong conv: in BasicBlock the first 3x3 conv (conv1) carries "
                          "the stride, conv2 has stride 1")))
        return out
    return variants


def _bottleneck_variants(x, stride):
    def variants(r):
        def branch(h, s1=1, s2=stride):
            h = F.relu(r.bn1(F.conv2d(h, r.conv1.weight, stride=s1)))
            h = F.relu(r.bn2(F.conv2d(h, r.conv2.weight, stride=s2, padding=1)))
            return r.bn3(r.conv3(h))
        main, sc = branch(x), _shortcut(r, x)
        out = [(F.relu(main), _(SKIP_BOTTLENECK)), (F.relu(main) + sc, _(RELU_BEFORE_ADD)),
               (main + sc, _(NO_FINAL_RELU))]
        if stride != 1:
            out.append((F.relu(branch(x, s1=stride, s2=1) + sc),
                        _("stride on the wrong conv: the stride belongs on the 3x3 conv2 (ResNet v1.5, as "
                          "in torchvision); putting it on the first 1x1 conv1 (the paper's v1) throws away "
                          "3/4 of the pixels before any 3x3 filter sees them")))
        return out
    return variants


def _is_shape_mismatch(err: StudentRaised) -> bool:
    """An elementwise addition of tensors of different shapes (CPU/CUDA and meta wordings)."""
    msg = err.message.lower()
    return "size of tensor" in msg or "must match the size" in msg or "attempting to broadcast" in msg


def _forward_cause(err: StudentRaised) -> str:
    """A student exception during a forward pass, explained in the lecture's terms where we recognise it."""
    if _is_shape_mismatch(err):
        return _(PROJECTION)
    if "to have" in err.message.lower() and "channels" in err.message.lower():
        return _("wrong channel bookkeeping: each stage's first block takes the channels the previous stage "
                 "produced (channels · block.expansion), the next blocks take channels · block.expansion as "
                 "input")
    return _("see the message and the lines of your code it points to")


def _run(fn, what: str):
    with explained(what, explain=_forward_cause):
        return fn()


def _run_meta(fn, what: str, hint: str):
    return on_meta(what, fn, hint, explain=lambda err: _(PROJECTION) if _is_shape_mismatch(err) else "")


def _check_layout(what: str, mine: list, expected: list, against: str = REFERENCE) -> None:
    assert_same_layout(what, mine, expected, _layout_hint,
                       _("register the submodules in torchvision's order (the order of assignment in "
                         "__init__ is the order of the state_dict): conv1 bn1 conv2 bn2 (conv3 bn3) "
                         "downsample in a block; conv1 bn1 layer1..layer4 fc in the network"), against)


def _layout_hint(missing, extra, wrong) -> str:
    def leaf(k):
        return k.rsplit(".", 2)[-2:] if "." in k else [k]
    if any(k.endswith("downsample.0.bias") for k in extra):
        return _("the projection's 1x1 conv has a bias: use bias=False (the BatchNorm after it has its own "
                 "shift), conv1x1(in, out, stride)")
    if any(k.endswith(".bias") and leaf(k)[0].startswith("conv") for k in extra):
        return _("a convolution has a bias: every convolution in ResNet uses bias=False, because a BatchNorm "
                 "with its own shift (β) follows it")
    if any(k.endswith(("conv3.weight", "bn3.weight")) for k in missing):
        return _("conv3/bn3 missing: resnet50 is built from Bottleneck blocks (1x1 reduce, 3x3, 1x1 expand "
                 "×4), not BasicBlock; a Bottleneck has conv1 bn1 conv2 bn2 conv3 bn3")
    if any(".downsample.1." in f".{k}" for k in missing) and not any(".downsample.0." in f".{k}"
                                                                     for k in missing):
        return _("the projection has no BatchNorm: downsample = nn.Sequential(conv1x1(in, out, stride), "
                 "nn.BatchNorm2d(out)), keys downsample.0 (conv) and downsample.1 (BN)")
    if any("downsample." in k for k in missing):
        return _(PROJECTION)
    bottleneck_extra = any(k.endswith(("conv3.weight", "bn3.weight")) for k in extra)
    if any("downsample." in k for k in extra):
        if bottleneck_extra:
            return _("this model has Bottleneck blocks where torchvision has BasicBlock: resnet18 and "
                     "resnet34 use BasicBlock (expansion 1), only resnet50 uses Bottleneck")
        return _("a projection where the shape does not change: the shortcut is the identity (downsample "
                 "= None) when stride == 1 and in_channels == out_channels · expansion; only the first block "
                 "of a stage can need one, the blocks after it take channels · block.expansion inputs")
    if bottleneck_extra:
        return _("this model has Bottleneck blocks where torchvision has BasicBlock: resnet18 and resnet34 "
                 "use BasicBlock, only resnet50 uses Bottleneck")
    if any(k.startswith("layer") and k.split(".")[1].isdigit() for k in missing + extra):
        return _("wrong number of blocks in a stage: layer1..layer4 hold layers[0..3] blocks (resnet18 [2, "
                 "2, 2, 2], resnet34 and resnet50 [3, 4, 6, 3]); use the layers argument")
    if missing and all("running" in k or "num_batches" in k for k in missing):
        return _("use nn.BatchNorm2d with its defaults (running statistics are part of the state_dict)")
    k, _shape, g = wrong[0] if wrong else ("", None, ())
    if "downsample.0" in k and len(g) == 4 and tuple(g[2:]) != (1, 1):
        return _("the projection is a 1x1 conv (kernel_size=1, with the block's stride), not a 3x3")
    if k.startswith("fc."):
        return _("fc maps 512 · block.expansion features to num_classes")
    if k.endswith(("conv3.weight", "bn3.weight", "bn3.bias")) or "downsample" in k:
        return _("expansion = 4 in Bottleneck: conv3 expands mid_channels to mid_channels · 4, and the "
                 "projection and bn3 have mid_channels · 4 channels")
    if k.startswith("conv1") or k.startswith("bn1"):
        return _("the stem is conv1: a 7x7 conv, stride 2, padding 3, 3 → 64 channels, no bias, then bn1")
    if k:
        return _("wrong channel bookkeeping: stage k uses 64, 128, 256, 512 channels (× expansion at a "
                 "block's output); the first block of a stage takes the previous stage's output channels, "
                 "the others take channels · expansion")
    return _("keep torchvision's names: conv1 bn1 conv2 bn2 (conv3 bn3) downsample.0 downsample.1 in a "
             "block; conv1 bn1 layer1..layer4 (nn.Sequential of blocks) fc in the network")


def _keys_hint(mine: list, expected: list) -> str:
    """The layout hint when the state_dict keys differ (missing or extra entries), else ""."""
    missing, extra, _wrong = layout_differences(mine, expected)
    return _layout_hint(missing, extra, []) if missing or extra else ""


def _student_on(student, name: str, args: tuple, what: str, device: str, ref):
    """The student's module on ``device`` in float64 with the reference's weights; returns (module, how)."""
    mine = getattr(student, name)(*args)
    mine.to(device, torch.float64)
    return mine, with_reference_weights(mine, ref, lambda m, e: _check_layout(
        _("{what}: the reference's weights cannot be loaded; its state_dict", what=what), m, e))


def _expansion(student, name: str, expected: int):
    cls = getattr(student, name)   # a missing class is the plugin's "not defined in your notebook"
    try:
        got = cls.expansion
    except StudentRaised:
        got = "missing"
    if got != expected or type(got) is not int:
        hint = (_("{name} outputs channels · expansion channels: set expansion = {expected} on the class "
                  "(a basic block keeps its width)", name=name, expected=expected) if expected == 1 else
                _("{name} outputs channels · expansion channels: set expansion = {expected} on the class "
                  "(the last 1x1 conv expands 4x)", name=name, expected=expected))
        fail(_("{name}.expansion: expected the class attribute expansion = {expected}, got {got!r}.",
               name=name, expected=expected, got=got), hint)


def _check_block_parameters(student, reference, name, cases, count, causes, keys_note, default,
                            no_proj_hint) -> None:
    """Each case built on meta: the parameter total, the reference's layout, and downsample None exactly where
    the shape stays. A wrong total's cause: a missing or extra state_dict entry names the mistake best (as
    ``keys_note(args, got, that cause)`` words it), else the table ``causes(args, base, proj)`` of wrong
    totals, else ``default``."""
    for args in cases:
        what = signature(name, args)
        mine = call_on("meta", getattr(student, name), *args)
        base, proj = count(*args)
        got, layout = measure(mine)
        ref_layout = _ref_layout(reference, name, args)
        if got != base + proj:
            keys_hint = _keys_hint(layout, ref_layout)
            hint = keys_note(args, got, keys_hint) if keys_hint else causes(args, base, proj).get(got)
            count_failure(what, got, base + proj, hint or default(*args[:2], proj))
        _check_layout(what, layout, ref_layout)
        if not proj and mine.downsample is not None:
            fail(_("{what}.downsample: expected None (identity shortcut), got {downsample!r}.", what=what,
                   downsample=mine.downsample), no_proj_hint)


def _check_block_matches_reference(student, reference, device, name: str, cases, variants, *, size_hint: str,
                                   channel_hint: str, order_hint: str) -> None:
    """Each (args, input shape) case: the student's block, with the reference's weights loaded, gives the
    reference's output in eval and train mode; ``variants`` explain a wrong output (likely mistakes)."""
    for args, shape in cases:
        stride = args[2] if len(args) > 2 else 1
        ref, x, outs = _cached(("block", name, args, shape, device), lambda: reference_case(
            lambda: getattr(reference, name)(*args), shape, device, train=shape[0] > 1))
        mine, how = _student_on(student, name, args, signature(name, args), device, ref)
        for mode in outs:
            getattr(mine, mode)()
            what = _("{block} on an input of shape {shape}, {mode} (reference weights loaded {how})",
                     block=signature(name, args), shape=shape, mode=_(MODES[mode]), how=_loaded(how))
            got = _run(lambda: mine(x), what)
            expected = outs[mode]
            if isinstance(got, torch.Tensor) and got.dim() == 4 and tuple(got.shape) != tuple(expected.shape):
                assert_tensor(what, got, shape=expected.shape,
                              hint=size_hint if got.shape[2:] != expected.shape[2:] else channel_hint)
            diag = diagnose(got, expected, ref, mode, variants(x, stride))
            assert_same_output(got, expected, what, hint=diag or order_hint, **FLOAT64)


# ------------------------------ BasicBlock ------------------------------------------------------
def _basic_params(cin: int, cout: int, stride: int = 1) -> tuple[int, int]:
    """(parameters without projection, parameters of the projection)."""
    proj = cin * cout + 2 * cout if stride != 1 or cin != cout else 0
    return 9 * cin * cout + 9 * cout * cout + 4 * cout, proj


def _basic_causes(args, base, proj) -> dict[int, str]:
    """Wrong totals of BasicBlock(*args) and their causes."""
    cin, cout = args[:2]
    expected = base + proj
    conv_bias = _(CONV_BIAS_BASIC_64)
    causes = {expected + d: conv_bias for d in subset_sums([cout, cout] + ([cout] if proj else []))}
    if proj:
        causes.update({expected + cout: _("the projection's 1x1 conv has a bias: use bias=False (the "
                                          "BatchNorm after it has its own shift), conv1x1(in, out, stride)"),
                       expected + 8 * cin * cout: _("the projection is a 1x1 conv (kernel_size=1), not a "
                                                    "3x3"),
                       expected - 2 * cout: _("the projection has no BatchNorm: downsample = "
                                              "nn.Sequential(conv1x1(in, out, stride), nn.BatchNorm2d(out))"),
                       base: _(PROJECTION)})
    else:
        causes[expected + cin * cout + 2 * cout] = _("a projection where the shape does not change: with "
                                                     "stride 1 and in == out channels the shortcut is the "
                                                     "identity, downsample = None")
    return causes


def _basic_keys_note(args, got, cause: str) -> str:
    """The cause the state_dict keys name, and what the total 74,112 of BasicBlock(64, 64) says."""
    if got == 74_112 and args == (64, 64):
        return _("{cause}; 74,112 for BasicBlock(64, 64) means the two 3x3 convs have biases", cause=cause)
    return cause


def _basic_formula(cin: int, cout: int, proj: int) -> str:
    """BasicBlock's total written out, for a wrong total no known mistake explains."""
    if proj:
        return _("expected 3·3·{cin}·{cout} (conv1) + 3·3·{cout}·{cout} (conv2) + 2·2·{cout} (bn1, bn2) + "
                 "{cin}·{cout} + 2·{cout} (1x1 projection + BN), no biases", cin=cin, cout=cout)
    return _("expected 3·3·{cin}·{cout} (conv1) + 3·3·{cout}·{cout} (conv2) + 2·2·{cout} (bn1, bn2), no "
             "biases", cin=cin, cout=cout)


@pytest.mark.points(3)
@pytest.mark.exercise("basic_block")
@pytest.mark.confirmed_by("test_basic_block_matches_reference")
def test_basic_block_parameters(student, reference):
    """BasicBlock: two 3x3 convs, no bias, + BN (64→64: 73,984); 1x1 conv + BN projection if shape changes"""
    _expansion(student, "BasicBlock", 1)
    _check_block_parameters(
        student, reference, "BasicBlock", [(64, 64), (64, 128, 2), (64, 128), (32, 32, 2), (7, 5)],
        _basic_params, _basic_causes, _basic_keys_note, _basic_formula,
        _("same shape in and out: torchvision's block keeps downsample = None and adds x itself (an "
          "nn.Identity or empty nn.Sequential is not None)"))


@pytest.mark.points(4)
@pytest.mark.exercise("basic_block")
def test_basic_block_matches_reference(student, reference, device):
    """BasicBlock is relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)): eval, train, strided, odd sizes"""
    cases = [((16, 16), (2, 16, 9, 9)),            # identity shortcut
             ((64, 128, 2), (2, 64, 9, 9)),        # resnet18's layer2.0: stride 2 and 64 → 128, 9x9 → 5x5
             ((8, 8, 2), (2, 8, 7, 6)),            # stride only: projection with the same channels
             ((8, 16), (1, 8, 5, 5))]              # channels only, a batch of 1 (eval mode)
    _check_block_matches_reference(
        student, reference, device, "BasicBlock", cases, _basic_variants,
        size_hint=_("the 3x3 convs need padding=1, and only conv1 (and the projection) carry the stride: a "
                    "9x9 map becomes 5x5 with stride 2, floor((9 + 2·1 − 3) / 2) + 1"),
        channel_hint=_("the block outputs out_channels channels"),
        order_hint=_("conv1 (3x3, stride) → bn1 → ReLU → conv2 (3x3) → bn2, then add the shortcut (x, or "
                     "downsample(x)) and apply the last ReLU"))


# ------------------------------ Bottleneck ------------------------------------------------------
def _bottleneck_params(cin: int, mid: int, stride: int = 1, expansion: int = 4) -> tuple[int, int]:
    out = mid * expansion
    proj = cin * out + 2 * out if stride != 1 or cin != out else 0
    return cin * mid + 9 * mid * mid + mid * out + 4 * mid + 2 * out, proj


def _bottleneck_causes(args, base, proj) -> dict[int, str]:
    """Wrong totals of Bottleneck(*args) and their causes (later entries win where two coincide)."""
    cin, mid = args[:2]
    stride = args[2] if len(args) > 2 else 1
    out, expected = 4 * mid, base + proj
    basic = 9 * cin * mid + 9 * mid * mid + 4 * mid + (cin * mid + 2 * mid if stride != 1 or cin != mid
                                                       else 0)
    causes = {basic: _(
        "that is a BasicBlock: the bottleneck is 1x1 conv (in → mid) → 3x3 conv (mid → mid) → 1x1 conv (mid "
        "→ mid · 4), each followed by BatchNorm")}
    conv_bias, narrow = _(CONV_BIAS), _("expansion = 4: the block's output (conv3, bn3, projection) has "
                                        "mid_channels · 4 channels")
    causes.update({expected + d: conv_bias for d in subset_sums([mid, mid, out] + ([out] if proj else []))})
    causes.update({sum(_bottleneck_params(cin, mid, stride, e)): narrow for e in (2, 1)})
    if proj:
        causes.update({expected + out: _("the projection's 1x1 conv has a bias: use bias=False (the "
                                         "BatchNorm after it has its own shift), conv1x1(in, mid·4, stride)"),
                       expected - 2 * out: _("the projection has no BatchNorm: downsample = nn.Sequential("
                                             "conv1x1(in, mid·4, stride), nn.BatchNorm2d(mid·4))"),
                       base: _bottleneck_projection(args)})
    return causes


def _bottleneck_projection(args) -> str:
    """The missing projection, said for Bottleneck(64, 64) in terms of resnet50 (where it is easy to miss)."""
    if args == (64, 64):
        return _("{cause} (Bottleneck(64, 64) is resnet50's layer1.0: 64 in, 256 out)", cause=_(PROJECTION))
    return _(PROJECTION)


def _bottleneck_keys_note(args, got, cause: str) -> str:
    return _bottleneck_projection(args) if cause == _(PROJECTION) else cause


def _bottleneck_formula(cin: int, mid: int, proj: int) -> str:
    """Bottleneck's total written out, for a wrong total no known mistake explains."""
    if proj:
        return _("expected {cin}·{mid} (1x1 conv1) + 3·3·{mid}·{mid} (conv2) + {mid}·{out} (1x1 conv3) + "
                 "2·({mid} + {mid} + {out}) (bn1, bn2, bn3) + {cin}·{out} + 2·{out} (1x1 projection + BN), "
                 "no biases", cin=cin, mid=mid, out=4 * mid)
    return _("expected {cin}·{mid} (1x1 conv1) + 3·3·{mid}·{mid} (conv2) + {mid}·{out} (1x1 conv3) + "
             "2·({mid} + {mid} + {out}) (bn1, bn2, bn3), no biases", cin=cin, mid=mid, out=4 * mid)


@pytest.mark.points(3)
@pytest.mark.exercise("bottleneck")
@pytest.mark.confirmed_by("test_bottleneck_matches_reference")
def test_bottleneck_parameters(student, reference):
    """Bottleneck: 1x1 reduce, 3x3, 1x1 expand ×4, no bias (256→64→256: 70,400); resnet50 layer1.0: 75,008"""
    _expansion(student, "Bottleneck", 4)
    _check_block_parameters(
        student, reference, "Bottleneck", [(256, 64), (64, 64), (256, 128, 2), (32, 8, 2), (12, 5)],
        _bottleneck_params, _bottleneck_causes, _bottleneck_keys_note, _bottleneck_formula,
        _("in_channels == mid_channels · 4 and stride 1: the shortcut is x itself, downsample = None"))


@pytest.mark.points(2)
@pytest.mark.exercise("bottleneck")
@pytest.mark.confirmed_by("test_bottleneck_matches_reference")
def test_bottleneck_stride_on_the_3x3(student):
    """Bottleneck(256, 128, stride=2): the stride sits on the 3x3 conv2 and the projection (ResNet v1.5)"""
    mine = student.Bottleneck(256, 128, 2)
    what = _("Bottleneck(256, 128, stride=2) (resnet50's layer2.0)")
    got = {}
    for name, path in [("conv1", ("conv1",)), ("conv2", ("conv2",)), ("conv3", ("conv3",)),
                       ("downsample[0]", ("downsample", 0))]:
        try:
            obj = mine
            for step in path:
                if obj is None:
                    fail(_("{what}: downsample is None.", what=what), _(PROJECTION))
                obj = obj[step] if isinstance(step, int) else getattr(obj, step)
            stride = obj.stride
        except (StudentRaised, AttributeError, TypeError) as err:
            if isinstance(err, StudentRaised) and passes_through(err):
                raise
            kind = err.type_name if isinstance(err, StudentRaised) else type(err).__name__
            fail(_("{what}: cannot read {name}.stride ({kind}: {error}).", what=what, name=name, kind=kind,
                   error=getattr(err, "message", err)),
                 _("keep torchvision's names: conv1 conv2 conv3 as nn.Conv2d, downsample = "
                   "nn.Sequential(conv, bn)"))
        got[name] = tuple(stride) if isinstance(stride, (tuple, list)) else stride
    assert_equal(_("{what}: strides of conv1, conv2, conv3, downsample[0]", what=what), got,
                 {"conv1": (1, 1), "conv2": (2, 2), "conv3": (1, 1), "downsample[0]": (2, 2)},
                 hint=_("the stride belongs on the 3x3 conv2 (ResNet v1.5, as in torchvision); the paper's "
                        "v1 put it on the first 1x1 conv, which throws away 3/4 of the pixels before any 3x3 "
                        "filter sees them; the projection's 1x1 conv carries the same stride"))


@pytest.mark.points(4)
@pytest.mark.exercise("bottleneck")
def test_bottleneck_matches_reference(student, reference, device):
    """Bottleneck is relu(bn3(conv3(…conv2(…conv1(x)))) + shortcut(x)), eval and train, stride 2, odd sizes"""
    cases = [((16, 4), (2, 16, 9, 9)),             # identity shortcut: 16 → 4 → 4 → 16
             ((16, 8, 2), (2, 16, 9, 9)),          # stride 2 and 16 → 32 channels, 9x9 → 5x5
             ((16, 4, 2), (2, 16, 7, 7)),          # stride only: 16 → 16 channels, 7x7 → 4x4
             ((8, 4), (1, 8, 7, 7))]               # channels only (like resnet50's layer1.0), a batch of 1
    _check_block_matches_reference(
        student, reference, device, "Bottleneck", cases, _bottleneck_variants,
        size_hint=_("the 3x3 conv2 needs padding=1 and carries the stride (conv1 and conv3 have stride 1): "
                    "a 9x9 map becomes 5x5 with stride 2"),
        channel_hint=_("the block outputs mid_channels · 4 channels (expansion = 4)"),
        order_hint=_("conv1 (1x1) → bn1 → ReLU → conv2 (3x3, stride) → bn2 → ReLU → conv3 (1x1) → bn3, "
                     "then add the shortcut (x, or downsample(x)) and apply the last ReLU"))


# ------------------------------ the skip connection itself --------------------------------------
def _switched_off_case(reference, name: str, args: tuple, shape: tuple):
    """Reference block (CPU, float64, eval) whose last BN has γ = β = 0: its residual branch gives 0."""
    def build():
        ref = randomise_batchnorm(build_seeded(lambda: getattr(reference, name)(*args), 5), 6).double().eval()
        last = ref.bn3 if name == "Bottleneck" else ref.bn2
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
            x = randn(*shape, seed=7, dtype=torch.float64)
            sc = _shortcut(ref, x)
            out = ref(x)
        assert torch.equal(out, F.relu(sc))
        return ref, x, sc, out
    return _cached(("switched-off", name, args, shape), build)


# mainly basic_block: two of its three cases are BasicBlocks, and the identity shortcut is taught there
@pytest.mark.points(3)
@pytest.mark.exercise("basic_block")
def test_blocks_add_the_identity(student, reference):
    """The identity map: with the residual branch off (last BN γ = β = 0) a block gives relu(shortcut(x))"""
    for name, args, shape in [("BasicBlock", (8, 8), (2, 8, 6, 6)), ("BasicBlock", (8, 16, 2), (2, 8, 7, 7)),
                              ("Bottleneck", (16, 4), (2, 16, 5, 5))]:
        ref, x, sc, expected = _switched_off_case(reference, name, args, shape)
        what0 = _("{block} with its last BatchNorm's weight and bias set to 0", block=signature(name, args))
        mine, how = _student_on(student, name, args, what0, "cpu", ref)
        mine.eval()
        what = _("{case}, eval mode (weights loaded {how})", case=what0, how=_loaded(how))
        got, (x_after,) = _run(lambda: call_keeping_inputs(mine, x), what)
        assert_tensor(what, got, shape=expected.shape)
        last = "bn3(conv3(...))" if name == "Bottleneck" else "bn2(conv2(...))"
        skip = SKIP_BOTTLENECK if name == "Bottleneck" else SKIP_BASIC
        if close(got, expected):
            if not torch.equal(x_after, x):
                fail(_("{what}: the output is right but your forward changed its input x in place (max "
                       "change {change:.3g}).", what=what, change=(x_after - x).abs().max().item()),
                     _("the identity is x itself: add into the branch's output (out += identity or out = out "
                       "+ identity), never into x (identity += out); an in-place change of x also breaks "
                       "backward, which still needs x"))
            continue
        if close(got, torch.zeros_like(expected)):
            hint = _("{cause}; here {last} is 0, so the block must give relu(x) (or relu(downsample(x))), "
                     "you gave 0", cause=_(skip), last=last)
        elif close(got, sc):
            hint = _("{cause} — or the last ReLU is missing: with {last} = 0 the block must give "
                     "relu(identity), you gave the identity itself", cause=_(RELU_BEFORE_ADD), last=last)
        elif args[0] != args[1] * (4 if name == "Bottleneck" else 1) or len(args) > 2:
            hint = _("the shortcut must be downsample(x) here (1x1 conv with the stride + BN), added after "
                     "the last BatchNorm, then ReLU")
        else:
            hint = _("the block is relu({last} + identity) with identity = x: add x itself, after the last "
                     "BatchNorm", last=last)
        assert_same_output(got, expected, what, hint=hint, **FLOAT64)


# ------------------------------ ResNet ----------------------------------------------------------
EXPECTED_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032}


def _expected_model_layout(reference, model: str) -> tuple[list, str]:
    """torchvision's committed layout of ``model`` where it is there, else the reference's; and which."""
    tv = torchvision_model(model)
    if tv is not None:
        return tv[1], TORCHVISION
    return _cached(("layout", model), lambda: reference_layout(getattr(reference, model))), REFERENCE


def _student_model(student, model: str):
    """(module built on meta, describe()) of the student's resnetXX(), once per submission."""
    def build():
        mine = _run_meta(lambda: call_on("meta", getattr(student, model)),
                         _("{module} built on the meta device", module=model + "()"),
                         _("create every layer with the constructor's arguments; nothing on a fixed device"))
        return mine, measure(mine)
    return _student_cached(student, model, build)


def _wrong_model_totals(reference) -> dict[str, dict[int, str]]:
    """{model: {parameter total: cause}} of plausible wrong versions (reference built on meta, once); the
    causes in English, as they are cached for the whole run: translate them where they are shown."""
    def build():
        with torch.device("meta"):
            r18 = reference.ResNet(reference.Bottleneck, [2, 2, 2, 2])
            bottleneck18 = sum(p.numel() for p in r18.parameters())
        p18, p34, p50 = (EXPECTED_PARAMS[m] for m in ("resnet18", "resnet34", "resnet50"))
        return {
            "resnet18": {bottleneck18: N_("resnet18 is BasicBlock with [2, 2, 2, 2]; Bottleneck blocks "
                                          "belong to resnet50"),
                         p34: N_("that is resnet34's count: resnet18 has [2, 2, 2, 2] blocks")},
            "resnet34": {p50: N_("that is resnet50's count: resnet34 uses BasicBlock with [3, 4, 6, 3], not "
                                 "Bottleneck"),
                         p18: N_("that is resnet18's count: resnet34 has [3, 4, 6, 3] blocks")},
            "resnet50": {p34: N_("resnet50 is built from Bottleneck blocks ([3, 4, 6, 3]); with BasicBlock "
                                 "it is resnet34's 21.8M")},
        }
    return _cached("wrong-model-totals", build)


def _wrong_model_cause(reference, model: str, got: int) -> str:
    """Why ``model`` has ``got`` parameters, where that total is a known mistake; else ""."""
    cause = _wrong_model_totals(reference)[model].get(got)
    return _(cause) if cause else ""


BLOCKS = ("BasicBlock", "Bottleneck")


def _on_meta_with_parts(build) -> tuple[torch.nn.Module, list[str]]:
    with torch.device("meta"):
        ref = build()
    return ref, part_paths(ref, BLOCKS)


def _ref_meta(reference, model: str) -> tuple[torch.nn.Module, list[str]]:
    """(the reference's model built on meta, the paths of its blocks), once."""
    return _cached(("meta", model), lambda: _on_meta_with_parts(getattr(reference, model)))


def _block_args(block) -> tuple[str, tuple]:
    """The reference's block → (its class, the arguments the reference wiring built it with)."""
    name = type(block).__name__
    stride = (block.conv1 if name == "BasicBlock" else block.conv2).stride[0]
    return name, (block.conv1.in_channels, block.conv1.out_channels, stride)


def _block_on_meta(student, name: str, args: tuple):
    """The student's block class built on meta with the reference wiring's arguments, once per submission."""
    return _student_cached(student, ("block", name, args), lambda: _run_meta(
        lambda: call_on("meta", getattr(student, name), *args),
        _("{module} built on meta", module=signature(name, args)),
        _("create every layer with the constructor's arguments")))


def _blocks_on_meta(student, ref, paths) -> dict[str, tuple[int, list]]:
    """{path: (count, layout)} of the student's block classes built with the reference wiring's arguments."""
    return {p: measure(_block_on_meta(student, *_block_args(ref.get_submodule(p)))) for p in paths}


def _given_blocks_count(student, ref, paths) -> int:
    return count_given_parts(ref, {p: n for p, (n, _layout) in _blocks_on_meta(student, ref, paths).items()})


def _given_blocks_layout(student, ref, paths, expected) -> list:
    layouts = {p: lay for p, (_count, lay) in _blocks_on_meta(student, ref, paths).items()}
    return layout_given_parts(expected, layouts)


def _part_names(ref, paths) -> set[str]:
    return {type(ref.get_submodule(p)).__name__ for p in paths}


@pytest.mark.points(3)
@pytest.mark.exercise("resnet")
@pytest.mark.confirmed_by("test_resnet18_matches_reference")
def test_resnet_parameters(student, reference):
    """resnet18, resnet34, resnet50 have exactly 11,689,512, 21,797,672 and 25,557,032 parameters (on meta)"""
    for model, expected in EXPECTED_PARAMS.items():
        mine, (got, layout) = _student_model(student, model)
        if got == expected:
            continue
        ref, paths = _ref_meta(reference, model)
        if got == _given_blocks_count(student, ref, paths):
            note(carried_forward(f"{model}()", _part_names(ref, paths), _("parameter count")))
            continue
        diff, expected_layout = got - expected, _expected_model_layout(reference, model)[0]
        conv_out = sum(s[0] for k, s, _dtype in expected_layout if k.endswith("weight") and len(s) == 4)
        if 0 < diff <= conv_out and diff % 64 == 0:
            hint = _("the difference looks like convolution biases: every convolution in ResNet uses "
                     "bias=False (a BatchNorm with its own shift follows)")
        elif diff < 0:
            hint = _("fewer parameters than torchvision: a missing projection (1x1 conv + BN where the shape "
                     "changes), a missing stage or block, or a narrower layer")
        else:
            hint = _("stem conv1 7x7/2 3 → 64 + bn1, four stages of 64, 128, 256, 512 channels (× "
                     "expansion) with layers[k] blocks, projections only where the shape changes, fc 512 · "
                     "expansion → num_classes")
        count_failure(f"{model}()", got, expected, _wrong_model_cause(reference, model, got)
                      or _keys_hint(layout, expected_layout) or hint)


@pytest.mark.points(3)
@pytest.mark.exercise("resnet")
@pytest.mark.confirmed_by("test_resnet18_matches_reference")
def test_resnet_state_dict(student, reference):
    """resnet18/34/50 keep torchvision's state_dict keys, order, shapes (122/218/320 entries, BN buffers)"""
    for model in EXPECTED_PARAMS:
        layout = _student_model(student, model)[1][1]
        expected, against = _expected_model_layout(reference, model)
        ref, paths = _ref_meta(reference, model)
        given = layout != expected and _given_blocks_layout(student, ref, paths, expected)
        if layout == given:
            note(carried_forward(f"{model}()", _part_names(ref, paths), "state_dict"))
            expected = given
        _check_layout(f"{model} state_dict", layout, expected, against)
        assert_same_dtypes(f"{model} state_dict", layout, expected,
                           _("build the model with the default dtype (float32); BatchNorm's "
                             "num_batches_tracked is int64"), _("float32/int64 as built"))


@pytest.mark.points(2)
@pytest.mark.exercise("resnet")
@pytest.mark.confirmed_by("test_resnet18_matches_reference")
def test_resnet_custom_config(student, reference):
    """ResNet(block, layers, num_classes) follows its arguments: small configurations, run on meta"""
    for block, layers, classes in [("BasicBlock", [1, 1, 1, 1], 10), ("Bottleneck", [1, 2, 1, 1], 7)]:
        what = f"ResNet({block}, {layers}, num_classes={classes})"
        mine = _run_meta(lambda: call_on("meta", student.ResNet, getattr(student, block), layers,
                                         num_classes=classes),
                         _("{module} built on the meta device", module=what),
                         _("use the constructor's arguments (block, layers, num_classes) for every layer"))
        expected = _cached(("layout", "ResNet", block, tuple(layers), classes), lambda: reference_layout(
            lambda: reference.ResNet(getattr(reference, block), layers, num_classes=classes)))
        ref, paths = _cached(("meta", block, tuple(layers), classes), lambda: _on_meta_with_parts(
            lambda: reference.ResNet(getattr(reference, block), layers, num_classes=classes)))
        mine_layout = state_dict_layout(mine)
        given = mine_layout != expected and _given_blocks_layout(student, ref, paths, expected)
        if mine_layout == given:
            note(carried_forward(what, _part_names(ref, paths), "state_dict"))
            expected = given
        _check_layout(f"{what} state_dict", mine_layout, expected)
        x = torch.empty(3, 3, 64, 64, device="meta")
        try:
            out = mine(x)
        except StudentRaised as err:
            broken = not passes_through(err) and first_broken_part(ref, paths, x, lambda p: _block_on_meta(
                student, *_block_args(ref.get_submodule(p))))
            if broken:
                fix_part_first(what, broken)
            out = _run_meta(lambda: mine(torch.empty(3, 3, 64, 64, device="meta")),
                            _("{module} forward on meta", module=what),
                            _("create new tensors on the input's device; never a hard-coded 'cpu'/'cuda'"))
        assert_tensor(_("{module} on a meta input of shape {shape}", module=what, shape=(3, 3, 64, 64)), out,
                      shape=(3, classes), device="meta", hint=_(OUTPUT_SHAPE))


@pytest.mark.points(2)
@pytest.mark.exercise("resnet")
def test_resnet_runs_on_meta(student):
    """BasicBlock, Bottleneck and resnet18() run on meta (no tensors on a fixed device), output (N, 1000)"""
    hint = _("create new tensors on the input's device (torch.zeros_like(x), device=x.device), never on a "
             "hard-coded 'cpu'/'cuda'")
    for name, args, shape, out_shape in [("BasicBlock", (8, 16, 2), (2, 8, 9, 9), (2, 16, 5, 5)),
                                         ("Bottleneck", (8, 4, 2), (2, 8, 9, 9), (2, 16, 5, 5))]:
        what = signature(name, args)
        block = _run_meta(lambda: call_on("meta", getattr(student, name), *args),
                          _("{module} built on meta", module=what), hint)
        out = _run_meta(lambda: block(torch.empty(*shape, device="meta")),
                        _("{module} forward on meta", module=what), hint)
        on_input = _("{module} on a meta input of shape {shape}", module=what, shape=shape)
        assert_tensor(on_input, out, shape=out_shape,
                      hint=_("a BasicBlock outputs out_channels channels, a Bottleneck mid_channels · 4 "
                             "(expansion); with stride 2 and padding 1 a 9x9 map becomes 5x5"))
        assert_tensor(on_input, out, device="meta", hint=hint)
    model = _student_model(student, "resnet18")[0]
    out = _run_meta(lambda: model(torch.empty(2, 3, 224, 224, device="meta")),
                    _("{module} forward on meta", module="resnet18()"), hint)
    assert_tensor(_("{module} on a meta input of shape {shape}", module="resnet18()", shape=(2, 3, 224, 224)),
                  out, shape=(2, 1000), device="meta",
                  hint=_("the output is (batch, num_classes), num_classes=1000 by default: avgpool to 1x1, "
                         "torch.flatten(x, 1), then fc"))


def _resnet18_case(reference, device: str):
    """(strided weights in the student's dtype, input, float64 reference output, reference); once."""
    def build():
        dtype = torch.float32 if device == "cpu" else torch.float64
        ref = build_seeded(lambda: reference.resnet18(num_classes=10), 0)
        sd = strided_weights(state_dict_layout(ref), seed=1, dtype=dtype)
        ref = ref.double().to(device).eval()
        ref.load_state_dict(sd)
        x = randn(1, 3, 32, 32, seed=2).to(dtype).to(device)
        with torch.no_grad():
            out = ref(x.double())
        return sd, x, out, ref
    return _cached(("resnet18-10", device), build)


def _resnet_variants(x):
    def variants(r):
        def stem(h, relu=True, pool=True):
            h = r.bn1(r.conv1(h))
            h = F.relu(h) if relu else h
            return r.maxpool(h) if pool else h

        def head(h, pool=F.adaptive_avg_pool2d):
            return r.fc(torch.flatten(pool(r.layer4(r.layer3(r.layer2(r.layer1(h)))), 1), 1))
        return [(head(stem(x, pool=False)), _("the max-pool after the stem is missing: conv1 → bn1 → ReLU → "
                                              "maxpool (3x3, stride 2, padding 1) → layer1")),
                (head(stem(x, relu=False)), _("the ReLU after the stem's bn1 is missing: conv1 → bn1 → ReLU "
                                              "→ maxpool")),
                (head(stem(x), pool=F.adaptive_max_pool2d),
                 _("that is max pooling at the end: ResNet uses global average pooling "
                   "(nn.AdaptiveAvgPool2d((1, 1)))"))]
    return variants


def _load_resnet18(student, device: str, dtype, sd, on_meta: bool):
    """The student's resnet18(num_classes=10) on ``device`` in ``dtype`` with the strided weights: (module,
    how). ``on_meta``: build on meta and materialise with to_empty (no initialisation of 11.7M weights), else
    build on the device itself."""
    mine = _build(lambda: call_on("meta" if on_meta else device, student.resnet18, num_classes=10), device,
                  dtype, on_meta)
    try:
        return mine, with_reference_weights(mine, sd, _explain_layout)
    except CheckFailed:
        return mine, None   # the layouts differ: judged given its blocks, or this failure is raised there


def _explain_layout(mine: list, expected: list) -> None:
    _check_layout(_("{what}: the reference's weights cannot be loaded; its state_dict",
                    what="resnet18(num_classes=10)"), mine, expected)


def _build(build, device: str, dtype, on_meta: bool):
    mine = build()
    if on_meta:
        mine.to(dtype)
        mine.to_empty(device=device)
    else:
        mine.to(device, dtype)
    return mine


def _given_blocks(student, ref, mine, sd, device: str, x):
    """(the student's resnet18, the reference's with the student's own blocks built with the reference
    wiring's arguments) on ``x``, the same weights in both (``outputs_given_parts``)."""
    def blocks():
        specs = {p: _block_args(ref.get_submodule(p)) for p in part_paths(ref, BLOCKS)}
        return {p: _build(lambda: call_on("meta", getattr(student, name), *args), device, x.dtype, True)
                for p, (name, args) in specs.items()}
    return outputs_given_parts("ResNet", mine, ref, sd, blocks, x, x.dtype)


@pytest.mark.points(4)
@pytest.mark.exercise("resnet")
def test_resnet18_matches_reference(student, reference, device):
    """A whole resnet18(num_classes=10) with the reference's weights gives its output on a 32x32 image"""
    sd, x, expected64, ref = _resnet18_case(reference, device)
    dtype, got = x.dtype, None
    try:
        mine, how = _load_resnet18(student, device, dtype, sd, on_meta=True)
    except StudentRaised as err:
        if passes_through(err):
            raise
        # a model that cannot be built on meta and materialised (the meta test says why): build it on device
        mine, how = _load_resnet18(student, device, dtype, sd, on_meta=False)
    what = _("resnet18(num_classes=10) on one 1x3x32x32 image, eval mode, {dtype} on {device} (reference "
             "weights loaded {how})", dtype=str(dtype).removeprefix("torch."), device=device,
             how=_loaded(how))
    if how is not None:
        mine.eval()
        try:
            got = mine(x)
        except StudentRaised as err:
            if passes_through(err):
                raise
    # float32 on CPU against a float64 reference: tolerance relative to the logits' size
    scale = max(expected64.abs().max().item(), 1.0)
    tol = ({"atol": 2e-5 * scale, "rtol": 1e-5} if dtype == torch.float32 else
           {"atol": FLOAT64["atol"] * scale, "rtol": FLOAT64["rtol"]})
    expected = expected64.to(dtype)
    if not close(got, expected, **tol):
        mine_given, given = _given_blocks(student, ref, mine, sd, device, x)
        if close(mine_given, given, **tol):
            return note(carried_forward("ResNet", _part_names(ref, part_paths(ref, BLOCKS))))
        if how is None:
            with_reference_weights(mine, sd, _explain_layout)   # fails, saying where the layouts differ
        got = _run(lambda: mine(x), what) if got is None else got
    if isinstance(got, torch.Tensor) and tuple(got.shape) != tuple(expected.shape):
        assert_tensor(what, got, shape=expected.shape, hint=_(OUTPUT_SHAPE))
    diag = diagnose(got, expected, ref, "eval", _resnet_variants(x.double()), **tol)
    assert_same_output(got, expected, what, hint=diag or _("conv1 → bn1 → ReLU → maxpool → layer1 → layer2 → "
                                                           "layer3 → layer4 → avgpool → flatten → fc"), **tol)
