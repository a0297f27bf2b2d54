"""Grading the ResNet assignment for real: reference, released stub, wrong and valid implementations.

Every notebook here goes through the sandbox and autograde_tests/test_resnet.py exactly as a student's would.
Wrong implementations of different cells share one submission where the hidden tests they fail are known.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest

from conftest import by_name, assert_full_marks, grade_released_stub

ID = "resnet"

ALL_TESTS = {
    "test_basic_block_parameters", "test_basic_block_matches_reference", "test_bottleneck_parameters",
    "test_bottleneck_stride_on_the_3x3", "test_bottleneck_matches_reference", "test_blocks_add_the_identity",
    "test_resnet_parameters", "test_resnet_state_dict", "test_resnet_custom_config", "test_resnet_runs_on_meta",
    "test_resnet18_matches_reference",
}
SKIP_PHRASE = "the skip connection (identity map) is missing: out = relu(bn2(conv2(...)) + identity)"
PROJECTION_PHRASE = "projection (1x1 conv + BN) missing where the shape changes"


def carried(composite: str, what: str, part: str) -> str:
    """The message of a composite test whose points came from the error carried forward (its part is wrong)."""
    return (f"your {composite} is wired right; its {what} differs from the reference only because of `{part}`, "
            f"charged in the `{part}` tests (error carried forward)")


def message(result: dict, test: str) -> str:
    return by_name(result)[test]["message"]


def failed(result: dict) -> set[str]:
    return {t["name"] for t in result["tests"] if t["outcome"] in ("failed", "error")}


def assert_failed_exactly(result: dict, expected: set[str]) -> None:
    got = failed(result)
    details = {t["name"]: t["message"][:400] for t in result["tests"] if t["name"] in got ^ expected}
    assert got == expected, f"failed {sorted(got)}, expected {sorted(expected)}; {details}"
    assert result["score"] == result["max_score"] - sum(by_name(result)[n]["max_points"] for n in expected)


def not_credited(result: dict, *tests: str) -> set[str]:
    """Assert that these structural tests passed their own checks but lost their points because a behavioural test
    of the same module (its forward pass against the reference) failed (``@pytest.mark.confirmed_by``); their names."""
    for test in tests:
        entry = by_name(result)[test]
        assert entry["outcome"] == "failed" and entry["points"] == 0, (test, entry)
        assert entry["message"].startswith("Not credited yet"), (test, entry["message"])
    return set(tests)


def swap(source: str, old: str, new: str) -> str:
    assert old in source, old
    return source.replace(old, new)


# ---------------------------------------------------------------- correct cells (torchvision style), to be broken
HELPERS = '''
def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
'''

BASIC = HELPERS + '''

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + identity
        return self.relu(out)
'''

BOTTLENECK = '''
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels, mid_channels, stride=1):
        super().__init__()
        out_channels = mid_channels * self.expansion
        self.conv1 = conv1x1(in_channels, mid_channels)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.conv2 = conv3x3(mid_channels, mid_channels, stride)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.conv3 = conv1x1(mid_channels, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = out + identity
        return self.relu(out)
'''

RESNET = '''
class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.in_channels = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, channels, num_blocks, stride=1):
        blocks = [block(self.in_channels, channels, stride)]
        self.in_channels = channels * block.expansion
        for _ in range(1, num_blocks):
            blocks.append(block(self.in_channels, channels))
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes=1000):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)


def resnet34(num_classes=1000):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes)


def resnet50(num_classes=1000):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes)
'''

# ---------------------------------------------------------------- plausible wrong implementations, by cell
ADD = "        out = out + identity\n"
PROJ_IF = "        if stride != 1 or in_channels != out_channels:\n"
PROJ = ("            self.downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), "
        "nn.BatchNorm2d(out_channels))\n")

BASIC_NO_SKIP = swap(BASIC, ADD, "")
BASIC_RELU_BEFORE_ADD = swap(BASIC, ADD + "        return self.relu(out)", "        return self.relu(out) + identity")
BASIC_NO_PROJECTION = swap(BASIC, PROJ_IF + PROJ, "")                       # downsample always None
BASIC_PROJECTION_NOT_ADDED = swap(BASIC, "identity = x if self.downsample is None else self.downsample(x)",
                                  "identity = x   # downsample is built but never used")
BASIC_PROJECTION_WITH_BIAS = swap(BASIC, "nn.Sequential(conv1x1(in_channels, out_channels, stride), ",
                                  "nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride), ")
BASIC_PROJECTION_WITHOUT_BN = swap(BASIC, PROJ, "            self.downsample = nn.Sequential("
                                                "conv1x1(in_channels, out_channels, stride))\n")
BASIC_CONVS_WITH_BIAS = swap(BASIC, "stride=stride, padding=1, bias=False)", "stride=stride, padding=1)")
BASIC_ADDS_INTO_X = swap(BASIC, ADD + "        return self.relu(out)",
                         "        identity += out   # identity is x itself when there is no projection\n"
                         "        return self.relu(identity)")
BASIC_STRIDE_ON_CONV2 = swap(swap(BASIC, "self.conv1 = conv3x3(in_channels, out_channels, stride)",
                                  "self.conv1 = conv3x3(in_channels, out_channels)"),
                             "self.conv2 = conv3x3(out_channels, out_channels)",
                             "self.conv2 = conv3x3(out_channels, out_channels, stride)")

BOTTLENECK_NO_SKIP = swap(BOTTLENECK, ADD, "")
BOTTLENECK_RELU_BEFORE_ADD = swap(BOTTLENECK, ADD + "        return self.relu(out)",
                                  "        return self.relu(out) + identity")
BOTTLENECK_V1_STRIDE = swap(swap(BOTTLENECK, "self.conv1 = conv1x1(in_channels, mid_channels)",
                                 "self.conv1 = conv1x1(in_channels, mid_channels, stride)   # the paper's v1"),
                            "self.conv2 = conv3x3(mid_channels, mid_channels, stride)",
                            "self.conv2 = conv3x3(mid_channels, mid_channels)")
BOTTLENECK_EXPANSION_1 = swap(BOTTLENECK, "expansion = 4", "expansion = 1")
BOTTLENECK_PROJECTION_ONLY_ON_STRIDE = swap(BOTTLENECK, PROJ_IF, "        if stride != 1:\n")

RESNET50_WITH_BASIC_BLOCKS = swap(RESNET, "ResNet(Bottleneck, [3, 4, 6, 3]", "ResNet(BasicBlock, [3, 4, 6, 3]")
RESNET_WITHOUT_MAXPOOL = swap(RESNET, "x = self.maxpool(self.relu(self.bn1(self.conv1(x))))",
                              "x = self.relu(self.bn1(self.conv1(x)))")
RESNET_IGNORING_ARGUMENTS = swap(
    swap(RESNET, "    def _make_layer(self, block, channels, num_blocks, stride=1):\n",
         "    def _make_layer(self, block, channels, num_blocks, stride=1):\n        num_blocks = 2\n"),
    "return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)", "return ResNet(BasicBlock, [2, 2, 2, 2])")
RESNET_STAGE_STRIDE_1 = swap(RESNET, "self.layer3 = self._make_layer(block, 256, layers[2], stride=2)",
                             "self.layer3 = self._make_layer(block, 256, layers[2])")
RESNET_SKIPS_LAYER1 = swap(RESNET, "x = self.layer4(self.layer3(self.layer2(self.layer1(x))))",
                           "x = self.layer4(self.layer3(self.layer2(x)))   # layer1 built, never run")
RESNET_NO_EXPANSION_BOOKKEEPING = swap(RESNET, "self.in_channels = channels * block.expansion",
                                       "self.in_channels = channels")

# ---------------------------------------------------------------- valid alternatives
VALID_A = {
    # functional ReLU, in-place addition, a shortcut helper, positional conv arguments
    "basic_block": '''
def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)


def conv1x1(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        needs_projection = stride != 1 or in_channels != out_channels * self.expansion
        self.downsample = (nn.Sequential(conv1x1(in_channels, out_channels * self.expansion, stride),
                                         nn.BatchNorm2d(out_channels * self.expansion))
                           if needs_projection else None)

    def shortcut(self, x):
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)
''',
    # torch.relu, the shortcut computed first, a different local name for the width
    "bottleneck": '''
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels, mid_channels, stride=1):
        super().__init__()
        width = mid_channels
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.downsample = None
        if stride != 1 or in_channels != width * self.expansion:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, width * self.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(width * self.expansion))

    def forward(self, x):
        identity = x
        if self.downsample is not None:
            identity = self.downsample(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + identity)
''',
    # stages built in a loop with setattr, mean over H and W instead of an avgpool module, Kaiming init
    "resnet": '''
class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels_in = 64
        for i, (width, n) in enumerate(zip((64, 128, 256, 512), layers), start=1):
            stride = 1 if i == 1 else 2
            blocks = []
            for j in range(n):
                blocks.append(block(channels_in, width, stride if j == 0 else 1))
                channels_in = width * block.expansion
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.fc = nn.Linear(channels_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(x.mean(dim=(2, 3)))


def resnet18(num_classes=1000):
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes)


def resnet34(num_classes=1000):
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes)


def resnet50(num_classes=1000):
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes)
''',
}

VALID_B = {
    # torchvision's own layout of forward (identity, out += identity, one shared in-place ReLU), stride attribute,
    # tuples for kernel/stride/padding, and a ReLU module per use
    "basic_block": swap(swap(swap(BASIC, "kernel_size=3, stride=stride, padding=1", "(3, 3), (stride, stride), (1, 1)"),
                             "        self.relu = nn.ReLU(inplace=True)\n",
                             "        self.relu1 = nn.ReLU(inplace=True)\n        self.relu2 = nn.ReLU(inplace=True)\n"
                             "        self.stride = stride\n"),
                        '''    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + identity
        return self.relu(out)
''', '''    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu2(out)
'''),
    "bottleneck": swap(BOTTLENECK, "        return self.relu(out)", "        return out.clamp(min=0)"),
    # a comprehension for the later blocks of a stage, zero-initialised last BN (torchvision's zero_init_residual)
    "resnet": swap(swap(RESNET, '''        blocks = [block(self.in_channels, channels, stride)]
        self.in_channels = channels * block.expansion
        for _ in range(1, num_blocks):
            blocks.append(block(self.in_channels, channels))
        return nn.Sequential(*blocks)''', '''        first = block(self.in_channels, channels, stride)
        self.in_channels = channels * block.expansion
        return nn.Sequential(first, *[block(self.in_channels, channels) for _ in range(num_blocks - 1)])'''),
                   "        self.fc = nn.Linear(512 * block.expansion, num_classes)\n",
                   "        self.fc = nn.Linear(512 * block.expansion, num_classes)\n"
                   "        for m in self.modules():\n"
                   "            last = getattr(m, 'bn3', None) or getattr(m, 'bn2', None)\n"
                   "            if isinstance(m, (BasicBlock, Bottleneck)) and last is not None:\n"
                   "                nn.init.zeros_(last.weight)\n"),
}


# ---------------------------------------------------------------- tests
def test_hidden_tests_cover_the_contract(solution_results):
    result = solution_results[ID]
    assert {t["name"] for t in result["tests"]} == ALL_TESTS
    assert all(t["title"] and t["max_points"] >= 1 for t in result["tests"])
    assert 20 <= result["max_score"] <= 40


def test_reference_gets_full_marks(solution_results):
    assert_full_marks(solution_results[ID])


def test_released_stub_gets_nothing(submit):
    result = grade_released_stub(submit, ID)
    assert "NotImplementedError" in message(result, "test_basic_block_parameters")


@pytest.mark.parametrize("replace", [VALID_A, VALID_B], ids=["functional-loop-mean", "torchvision-forward-clamp"])
def test_valid_alternatives_keep_full_marks(submit, replace):
    result = submit(ID, replace)
    assert result["score"] == result["max_score"], [(t["name"], t["message"][:400]) for t in result["tests"]
                                                    if t["outcome"] != "passed"]


def test_no_skip_connection_and_stride_on_the_bottleneck_1x1(submit):
    result = submit(ID, {"basic_block": BASIC_NO_SKIP, "bottleneck": BOTTLENECK_V1_STRIDE})
    assert_failed_exactly(result, {"test_basic_block_matches_reference", "test_blocks_add_the_identity",
                                   "test_bottleneck_stride_on_the_3x3", "test_bottleneck_matches_reference"}
                          | not_credited(result, "test_basic_block_parameters", "test_bottleneck_parameters"))
    assert SKIP_PHRASE in message(result, "test_basic_block_matches_reference")
    assert SKIP_PHRASE in message(result, "test_blocks_add_the_identity")
    assert carried("ResNet", "output", "BasicBlock") in message(result, "test_resnet18_matches_reference")
    assert "conv2" in message(result, "test_bottleneck_stride_on_the_3x3")
    assert "v1.5" in message(result, "test_bottleneck_stride_on_the_3x3")
    assert "stride on the wrong conv" in message(result, "test_bottleneck_matches_reference")


def test_relu_before_the_addition(submit):
    result = submit(ID, {"basic_block": BASIC_RELU_BEFORE_ADD, "bottleneck": BOTTLENECK_NO_SKIP})
    assert_failed_exactly(result, {"test_basic_block_matches_reference", "test_blocks_add_the_identity",
                                   "test_bottleneck_matches_reference"}
                          | not_credited(result, "test_basic_block_parameters", "test_bottleneck_parameters",
                                         "test_bottleneck_stride_on_the_3x3"))
    assert "ReLU is applied before the addition" in message(result, "test_basic_block_matches_reference")
    assert "ReLU is applied before the addition" in message(result, "test_blocks_add_the_identity")
    assert "relu(bn3(conv3(...)) + identity)" in message(result, "test_bottleneck_matches_reference")
    assert carried("ResNet", "output", "BasicBlock") in message(result, "test_resnet18_matches_reference")


def test_projection_missing(submit):
    """A block that does not run where the shape changes: ResNet's tests name the block to fix first."""
    result = submit(ID, {"basic_block": BASIC_NO_PROJECTION})
    assert_failed_exactly(result, {"test_basic_block_parameters", "test_basic_block_matches_reference",
                                   "test_blocks_add_the_identity", "test_resnet_custom_config",
                                   "test_resnet_runs_on_meta", "test_resnet18_matches_reference"}
                          | not_credited(result, "test_resnet_parameters", "test_resnet_state_dict"))
    for test in ("test_basic_block_parameters", "test_basic_block_matches_reference", "test_blocks_add_the_identity",
                 "test_resnet_runs_on_meta"):
        assert PROJECTION_PHRASE in message(result, test), test
    for test in ("test_resnet_custom_config", "test_resnet18_matches_reference"):
        assert "cannot be judged yet: your `BasicBlock`" in message(result, test), test
        assert "fix `BasicBlock` first" in message(result, test), test


def test_projection_built_but_not_added_raises_a_shape_error(submit):
    result = submit(ID, {"basic_block": BASIC_PROJECTION_NOT_ADDED, "bottleneck": BOTTLENECK_RELU_BEFORE_ADD})
    assert_failed_exactly(result, {"test_basic_block_matches_reference", "test_blocks_add_the_identity",
                                   "test_resnet_runs_on_meta", "test_resnet_custom_config",
                                   "test_resnet18_matches_reference", "test_bottleneck_matches_reference"}
                          | not_credited(result, "test_basic_block_parameters", "test_bottleneck_parameters",
                                         "test_bottleneck_stride_on_the_3x3", "test_resnet_parameters",
                                         "test_resnet_state_dict"))
    for test in ("test_basic_block_matches_reference", "test_blocks_add_the_identity", "test_resnet_runs_on_meta"):
        text = message(result, test)
        assert "RuntimeError" in text and PROJECTION_PHRASE in text, (test, text)
    assert "fix `BasicBlock` first" in message(result, "test_resnet18_matches_reference")
    assert "ReLU is applied before the addition" in message(result, "test_bottleneck_matches_reference")


def test_projection_with_bias_and_bottleneck_projection_only_on_stride(submit):
    result = submit(ID, {"basic_block": BASIC_PROJECTION_WITH_BIAS,
                         "bottleneck": BOTTLENECK_PROJECTION_ONLY_ON_STRIDE})
    assert_failed_exactly(result, {"test_basic_block_parameters", "test_basic_block_matches_reference",
                                   "test_blocks_add_the_identity", "test_bottleneck_parameters",
                                   "test_bottleneck_matches_reference", "test_resnet_custom_config"}
                          | not_credited(result, "test_bottleneck_stride_on_the_3x3"))
    assert "projection's 1x1 conv has a bias" in message(result, "test_basic_block_parameters")
    assert "projection's 1x1 conv has a bias" in message(result, "test_basic_block_matches_reference")
    assert carried("resnet18()", "state_dict", "BasicBlock") in message(result, "test_resnet_state_dict")
    assert carried("resnet50()", "parameter count", "Bottleneck") in message(result, "test_resnet_parameters")
    assert "fix `Bottleneck` first" in message(result, "test_resnet_custom_config")
    assert PROJECTION_PHRASE in message(result, "test_bottleneck_parameters")
    assert "layer1.0" in message(result, "test_bottleneck_parameters")
    assert PROJECTION_PHRASE in message(result, "test_bottleneck_matches_reference")


def test_projection_without_bn_and_bottleneck_expansion_1(submit):
    """expansion = 1 changes what ResNet builds around the block (its bookkeeping reads block.expansion): the
    one part mistake that still costs the whole model's structure tests."""
    result = submit(ID, {"basic_block": BASIC_PROJECTION_WITHOUT_BN, "bottleneck": BOTTLENECK_EXPANSION_1})
    assert_failed_exactly(result, {"test_basic_block_parameters", "test_basic_block_matches_reference",
                                   "test_blocks_add_the_identity", "test_bottleneck_parameters",
                                   "test_bottleneck_matches_reference", "test_resnet_parameters",
                                   "test_resnet_state_dict", "test_resnet_custom_config", "test_resnet_runs_on_meta"}
                          | not_credited(result, "test_bottleneck_stride_on_the_3x3"))
    assert "projection has no BatchNorm" in message(result, "test_basic_block_parameters")
    assert "projection has no BatchNorm" in message(result, "test_basic_block_matches_reference")
    assert "expansion = 4" in message(result, "test_bottleneck_parameters")
    assert carried("ResNet", "output", "BasicBlock") in message(result, "test_resnet18_matches_reference")


def test_convolutions_with_bias(submit):
    result = submit(ID, {"basic_block": BASIC_CONVS_WITH_BIAS})   # conv3x3 is shared: Bottleneck's conv2 too
    assert_failed_exactly(result, {"test_basic_block_parameters", "test_basic_block_matches_reference",
                                   "test_blocks_add_the_identity", "test_bottleneck_parameters",
                                   "test_bottleneck_matches_reference"}
                          | not_credited(result, "test_bottleneck_stride_on_the_3x3"))
    for test in ("test_basic_block_parameters", "test_bottleneck_parameters", "test_basic_block_matches_reference"):
        assert "bias" in message(result, test), test
    assert "74,112" in message(result, "test_basic_block_parameters")
    for test, what in [("test_resnet_parameters", "parameter count"), ("test_resnet_state_dict", "state_dict"),
                       ("test_resnet_custom_config", "state_dict"), ("test_resnet18_matches_reference", "output")]:
        assert "error carried forward" in message(result, test) and what in message(result, test), test


def test_basic_block_stride_on_conv2_and_resnet_stage_with_the_wrong_stride(submit):
    """Each mistake is charged where it is: the block's in BasicBlock's tests, ResNet's (layer3 with stride 1,
    which changes no count) in ResNet's forward test and so in its structure tests."""
    result = submit(ID, {"basic_block": BASIC_STRIDE_ON_CONV2})
    assert_failed_exactly(result, {"test_basic_block_matches_reference"}
                          | not_credited(result, "test_basic_block_parameters"))
    assert "first 3x3 conv (conv1) carries the stride" in message(result, "test_basic_block_matches_reference")
    assert carried("ResNet", "output", "BasicBlock") in message(result, "test_resnet18_matches_reference")
    result = submit(ID, {"basic_block": BASIC_STRIDE_ON_CONV2, "resnet": RESNET_STAGE_STRIDE_1})
    assert_failed_exactly(result, {"test_basic_block_matches_reference", "test_resnet18_matches_reference"}
                          | not_credited(result, "test_basic_block_parameters", "test_resnet_parameters",
                                         "test_resnet_state_dict", "test_resnet_custom_config"))


def test_resnet_skipping_its_blocks_gets_no_carried_forward_credit(submit):
    """A ResNet whose forward skips layer1 computes neither the reference's function nor the hybrid's: with a
    wrong BasicBlock too, nothing of ResNet is credited (its counts are right, but unconfirmed)."""
    result = submit(ID, {"basic_block": BASIC_RELU_BEFORE_ADD, "resnet": RESNET_SKIPS_LAYER1})
    assert_failed_exactly(result, {"test_basic_block_matches_reference", "test_blocks_add_the_identity",
                                   "test_resnet18_matches_reference", "test_resnet_custom_config"}
                          | not_credited(result, "test_basic_block_parameters", "test_resnet_parameters",
                                         "test_resnet_state_dict"))
    assert "error carried forward" not in message(result, "test_resnet18_matches_reference")
    assert "cannot be judged yet" not in message(result, "test_resnet_custom_config")   # ResNet's own mistake


def test_resnet50_built_with_basic_blocks(submit):
    result = submit(ID, {"resnet": RESNET50_WITH_BASIC_BLOCKS})
    assert_failed_exactly(result, {"test_resnet_parameters", "test_resnet_state_dict"})
    assert "Bottleneck" in message(result, "test_resnet_parameters")
    assert "21,797,672" in message(result, "test_resnet_parameters")
    assert "Bottleneck" in message(result, "test_resnet_state_dict")


def test_addition_into_the_input_and_resnet_without_the_stem_maxpool(submit):
    result = submit(ID, {"basic_block": BASIC_ADDS_INTO_X, "resnet": RESNET_WITHOUT_MAXPOOL})
    assert_failed_exactly(result, {"test_blocks_add_the_identity", "test_resnet18_matches_reference"}
                          | not_credited(result, "test_resnet_parameters", "test_resnet_state_dict",
                                         "test_resnet_custom_config"))
    assert "changed its input x in place" in message(result, "test_blocks_add_the_identity")
    assert "max-pool after the stem is missing" in message(result, "test_resnet18_matches_reference")


def test_resnet_ignoring_layers_and_num_classes(submit):
    result = submit(ID, {"resnet": RESNET_IGNORING_ARGUMENTS})
    assert_failed_exactly(result, {"test_resnet_parameters", "test_resnet_state_dict", "test_resnet_custom_config",
                                   "test_resnet18_matches_reference"})
    assert "layers" in message(result, "test_resnet_state_dict")
    assert "layers" in message(result, "test_resnet_custom_config")
    assert "num_classes" in message(result, "test_resnet18_matches_reference")


def test_resnet_forgetting_the_expansion_between_stages(submit):
    result = submit(ID, {"resnet": RESNET_NO_EXPANSION_BOOKKEEPING})
    assert_failed_exactly(result, {"test_resnet_parameters", "test_resnet_state_dict", "test_resnet_custom_config"})
    assert "expansion" in message(result, "test_resnet_state_dict")
    assert "expansion" in message(result, "test_resnet_custom_config")


HANGUL = re.compile(r"[\uac00-\ud7a3]")
NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")
CODE_NAMES = re.compile(r"`[^`]+`|\b[A-Za-z]+_\w+|\b[A-Za-z]+\d[\w.]*", re.ASCII)   # `BasicBlock`, conv1


@pytest.mark.parametrize("replace, test, total", [
    ({"basic_block": BASIC_CONVS_WITH_BIAS}, "test_basic_block_parameters", "74,112"),
    ({"resnet": RESNET50_WITH_BASIC_BLOCKS}, "test_resnet_parameters", "21,797,672"),
], ids=["convs-with-bias", "resnet50-with-basic-blocks"])
def test_wrong_implementations_graded_in_korean(submit, replace, test, total):
    """--lang ko: the same points, every title and likely cause in Korean, and every message keeps the English
    one's numbers and code names (`BasicBlock`, conv1, layer1.0). English first, so that a value the first run
    caches (the table of wrong model totals) cannot carry its language into the second."""
    english, korean = submit(ID, replace), submit(ID, replace, lang="ko")
    points = [[(t["name"], t["points"]) for t in result["tests"]] for result in (english, korean)]
    assert points[0] == points[1]
    for en, ko in zip(english["tests"], korean["tests"]):
        assert HANGUL.search(ko["title"]), ko["title"]
        own_failure = en["outcome"] != "passed" and not en["message"].startswith("Not credited yet")
        if own_failure:   # "Not credited yet" and notes of error carried forward are the grader's own words
            assert HANGUL.search(ko["message"]), (ko["name"], ko["message"])
        assert Counter(NUMBERS.findall(en["message"])) <= Counter(NUMBERS.findall(ko["message"])), (en, ko)
        assert set(CODE_NAMES.findall(en["message"])) <= set(CODE_NAMES.findall(ko["message"])), (en, ko)
    cause = message(korean, test).split("\n")[-1]
    assert total in message(korean, test) and HANGUL.search(cause), message(korean, test)


def test_reference_grading_time(solution_results, submit):
    """Grading one submission (cells + hidden tests) stays fast in a warm worker."""
    solution_results[ID]   # warm: zygote, reference, cached reference outputs
    result = submit(ID)
    print(f"resnet reference graded in {result['seconds']:.3f} s (warm)")
    assert result["score"] == result["max_score"]
    assert result["seconds"] < 10
