"""The DenseNet hidden tests, run for real through the sandbox on whole notebooks.

The reference gets full marks, the released stub gets nothing, plausible wrong
implementations of every graded cell lose points in the right test with a
message that names the mistake, and valid alternatives keep full marks.
"""
from __future__ import annotations


import pytest

from conftest import assert_korean_like_english, carried_forward, failed, not_credited, passed, by_name, assert_full_marks, grade_released_stub

ID = "densenet"


# --- plausible wrong implementations (full replacement sources of one graded cell) -------------------------------

LAYER_RETURNS_CONCAT = '''
class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        new = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        return torch.cat([x, new], 1)
'''

LAYER_NO_BOTTLENECK = '''
class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        return self.conv1(self.relu1(self.norm1(x)))
'''

LAYER_WITH_BIAS = '''
class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1)

    def forward(self, x):
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
'''

LAYER_MISSING_RELU2 = '''
class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        return self.conv2(self.norm2(self.conv1(self.relu1(self.norm1(x)))))
'''

BLOCK_ADDS = '''
class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, in_channels, growth_rate, bn_size=4):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels, growth_rate, bn_size=bn_size))

    def forward(self, x):
        out = x
        for layer in self.values():
            out = out + layer(out)   # like ResNet
        return out
'''

BLOCK_WRONG_ORDER = '''
class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, in_channels, growth_rate, bn_size=4):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}",
                            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size=bn_size))

    def forward(self, x):
        out = x
        for layer in self.values():
            out = torch.cat([layer(out), out], 1)   # new maps in front
        return out
'''

BLOCK_REVERSED_OUTPUT = '''
class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, in_channels, growth_rate, bn_size=4):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}",
                            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size=bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat([x] + features[1:][::-1], 1)   # the new maps, last layer first
'''

CHANNELS_GEOMETRIC = '''
def dense_channels(in_channels, num_layers, growth_rate):
    return in_channels * 2 ** num_layers
'''

CHANNELS_OFF_BY_ONE = '''
def dense_channels(in_channels, num_layers, growth_rate):
    return in_channels + max(num_layers - 1, 0) * growth_rate
'''

TRANSITION_NO_RELU = '''
class Transition(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
'''

TRANSITION_MAX_POOL = '''
class Transition(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
'''

TRANSITION_WITH_BIAS = '''
class Transition(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
'''

DENSENET_TEMPLATE = '''
class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        c = num_init_features
        for i, n in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, c, growth_rate, bn_size=bn_size))
            c = c + n * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(c, OUT))
                c = OUT
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        out = FINAL(self.features(x))
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(torch.flatten(out, 1))


def densenet121(num_classes=1000):
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes)
'''


def densenet_source(halve: bool = True, final_relu: bool = True) -> str:
    return (DENSENET_TEMPLATE.replace("OUT", "c // 2" if halve else "c")
            .replace("FINAL", "F.relu" if final_relu else ""))


# --- valid alternatives -------------------------------------------------------------------------------------------

VALID_A = {
    # accepts a list (torchvision style), functional ReLU, no ReLU modules at all
    "dense_layer": '''
class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        width = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)

    def forward(self, inputs):
        x = torch.cat(list(inputs), dim=1) if isinstance(inputs, (list, tuple)) else inputs
        y = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(y)))
''',
    # passes the list of feature maps to each layer, as torchvision's _DenseBlock does
    "dense_block": '''
class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, in_channels, growth_rate, bn_size=4):
        super().__init__()
        for i in range(1, num_layers + 1):
            setattr(self, "denselayer%d" % i,
                    DenseLayer(in_channels + (i - 1) * growth_rate, growth_rate, bn_size))

    def forward(self, init_features):
        features = [init_features]
        for name, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)
''',
    "dense_channels": '''
def dense_channels(in_channels, num_layers, growth_rate):
    return sum([in_channels] + [growth_rate] * num_layers)
''',
    "transition": '''
class Transition(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(in_channels))
        self.add_module("relu", nn.ReLU())
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, (1, 1), bias=False))
        self.add_module("pool", nn.AvgPool2d(2))
''',
    # hand-tracked widths, torch.relu, mean over H and W instead of adaptive pooling, no custom init
    "densenet": '''
class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 num_classes=1000):
        super().__init__()
        layers = [("conv0", nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False)),
                  ("norm0", nn.BatchNorm2d(num_init_features)), ("relu0", nn.ReLU(inplace=True)),
                  ("pool0", nn.MaxPool2d(3, 2, 1))]
        width = num_init_features
        for i, n in enumerate(block_config, start=1):
            layers.append((f"denseblock{i}", DenseBlock(n, width, growth_rate, bn_size)))
            width += n * growth_rate
            if i < len(block_config):
                layers.append((f"transition{i}", Transition(width, width // 2)))
                width //= 2
        layers.append(("norm5", nn.BatchNorm2d(width)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        x = torch.relu(self.features(x))
        return self.classifier(x.mean(dim=(2, 3)))


def densenet121(num_classes=1000):
    return DenseNet(num_classes=num_classes)
''',
}

VALID_B = {
    # ReLU modules kept but called functionally in place on the BN output; a helper method
    "dense_layer": '''
class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)

    def bottleneck(self, x):
        return self.conv1(F.relu(self.norm1(x), inplace=True))

    def forward(self, x):
        return self.conv2(F.relu(self.norm2(self.bottleneck(x)), inplace=True))
''',
    # grows one tensor with a loop instead of keeping a list
    "dense_block": '''
class DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, in_channels, growth_rate, bn_size=4):
        super().__init__()
        channels = in_channels
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(channels, growth_rate, bn_size=bn_size)
            channels += growth_rate

    def forward(self, x):
        out = x
        for layer in self.values():
            out = torch.cat((out, layer(out)), dim=1)
        return out
''',
    "densenet": densenet_source().replace("F.relu(self.features(x))", "self.features(x).clamp(min=0)"),
}


# --- tests --------------------------------------------------------------------------------------------------------

def test_reference_gets_full_marks(solution_results):
    assert_full_marks(solution_results[ID])


def test_released_stub_gets_nothing(submit):
    grade_released_stub(submit, ID)


def test_layer_returning_the_concatenation_geometric_channels_transition_without_relu(submit):
    result = submit(ID, {"dense_layer": LAYER_RETURNS_CONCAT, "dense_channels": CHANNELS_GEOMETRIC,
                         "transition": TRANSITION_NO_RELU})
    failed(result, "test_dense_layer_returns_new_maps", "concatenation", "only its growth_rate new maps")
    failed(result, "test_dense_layer_matches_reference")
    failed(result, "test_dense_channels", "geometric", "linear")
    failed(result, "test_transition_matches_reference", "ReLU is missing")
    # the layer's and the transition's structure is right, but their forward is not: no structural points
    not_credited(result, "test_dense_layer_parameters", "test_transition_parameters")
    for test, confirmation in [("test_dense_layer_parameters", "DenseLayer computes conv2"),
                               ("test_transition_parameters", "Transition is BN → ReLU")]:
        entry = by_name(result)[test]
        assert "Not credited yet" in entry["message"] and confirmation in entry["message"], entry["message"]


def test_layer_without_bottleneck_and_max_pool_transition(submit):
    result = submit(ID, {"dense_layer": LAYER_NO_BOTTLENECK, "transition": TRANSITION_MAX_POOL})
    failed(result, "test_dense_layer_parameters", "bottleneck", "1x1")
    failed(result, "test_transition_matches_reference", "max pooling", "average")
    passed(result, "test_dense_layer_returns_new_maps", "test_dense_channels")
    not_credited(result, "test_transition_parameters")


def test_convolutions_with_bias(submit):
    result = submit(ID, {"dense_layer": LAYER_WITH_BIAS, "transition": TRANSITION_WITH_BIAS})
    failed(result, "test_dense_layer_parameters", "bias")
    failed(result, "test_transition_parameters", "bias")
    # densenet121, DenseBlock and DenseNet are right given these parts: the biases are charged in their tests
    carried_forward(result, "DenseBlock`, `Transition", "test_densenet121_parameters", "test_densenet121_state_dict",
                    "test_densenet_matches_reference")
    carried_forward(result, "DenseLayer", "test_dense_block_matches_reference", "test_dense_block_layers")
    passed(result, "test_dense_layer_returns_new_maps", "test_dense_channels", "test_densenet_channel_bookkeeping")


def test_layer_missing_a_relu_and_transitions_that_do_not_halve(submit):
    # two unrelated mistakes in one submission: the layer's forward, and DenseNet's channel bookkeeping
    result = submit(ID, {"dense_layer": LAYER_MISSING_RELU2, "densenet": densenet_source(halve=False)})
    failed(result, "test_dense_layer_matches_reference", "relu2")
    # DenseBlock is right given its DenseLayer: the missing ReLU is charged once, in DenseLayer's tests
    carried_forward(result, "DenseLayer", "test_dense_block_matches_reference")
    passed(result, "test_dense_layer_returns_new_maps", "test_transition_matches_reference",
           "test_dense_block_layers")
    not_credited(result, "test_dense_layer_parameters")
    # DenseNet's own mistake is still charged to DenseNet, whatever its parts do
    failed(result, "test_densenet_matches_reference")
    failed(result, "test_densenet_channel_bookkeeping", "halves", "transition")
    failed(result, "test_densenet121_parameters")
    failed(result, "test_densenet121_state_dict", "halves")


def test_transition_without_relu_costs_only_the_transition_points(submit):
    """One mistake inside Transition is charged once: DenseNet is right given it (error carried forward);
    Transition's max-pool mistake is the bundled example chris/densenet."""
    result = submit(ID, {"transition": TRANSITION_NO_RELU})
    failed(result, "test_transition_matches_reference", "ReLU is missing")
    not_credited(result, "test_transition_parameters")
    carried_forward(result, "Transition", "test_densenet_matches_reference")
    lost = {t["name"] for t in result["tests"] if t["points"] != t["max_points"]}
    assert lost == {"test_transition_matches_reference", "test_transition_parameters"}, lost


def test_block_adding_instead_of_concatenating(submit):
    result = submit(ID, {"dense_block": BLOCK_ADDS})
    failed(result, "test_dense_block_concatenates", "addition", "concatenat")
    failed(result, "test_dense_block_layers", "concatenat")
    failed(result, "test_densenet121_parameters")
    passed(result, "test_dense_layer_matches_reference", "test_transition_matches_reference", "test_dense_channels")


@pytest.mark.parametrize("source", [BLOCK_WRONG_ORDER, BLOCK_REVERSED_OUTPUT], ids=["new-maps-first", "reversed"])
def test_block_with_the_wrong_concatenation_order(submit, source):
    result = submit(ID, {"dense_block": source})
    failed(result, "test_dense_block_concatenates", "concatenation order")
    failed(result, "test_dense_block_matches_reference")
    # DenseNet is right given its DenseBlock: the order is charged once, in DenseBlock's tests
    carried_forward(result, "DenseBlock", "test_densenet_matches_reference")
    passed(result, "test_dense_layer_matches_reference", "test_dense_layer_parameters",
           "test_densenet121_state_dict")
    not_credited(result, "test_dense_block_layers")


def test_densenet_without_the_final_relu_and_off_by_one_channels(submit):
    # the replacement DenseNet tracks its widths itself, so the wrong dense_channels does not touch it
    result = submit(ID, {"densenet": densenet_source(final_relu=False), "dense_channels": CHANNELS_OFF_BY_ONE})
    failed(result, "test_densenet_matches_reference", "ReLU after norm5")
    failed(result, "test_dense_channels", "off by one")
    gated = ("test_densenet121_parameters", "test_densenet121_state_dict", "test_densenet_channel_bookkeeping")
    not_credited(result, *gated)
    lost = sum(by_name(result)[t]["max_points"]
               for t in ("test_densenet_matches_reference", "test_dense_channels", *gated))
    assert result["score"] == result["max_score"] - lost, [t for t in result["tests"] if t["outcome"] != "passed"]


@pytest.mark.parametrize("replace", [VALID_A, VALID_B], ids=["list-input-functional-relu", "loop-cat-clamp"])
def test_valid_alternatives_keep_full_marks(submit, replace):
    result = submit(ID, replace)
    assert result["score"] == result["max_score"], [t for t in result["tests"] if t["outcome"] != "passed"]


def test_wrong_implementations_graded_in_korean(submit):
    """--lang ko: convolutions with bias and geometric channel growth are told in Korean, with the same
    points, parameter counts and code names as in English."""
    replace = {"dense_layer": LAYER_WITH_BIAS, "transition": TRANSITION_WITH_BIAS,
               "dense_channels": CHANNELS_GEOMETRIC}
    english, korean = submit(ID, replace), submit(ID, replace, lang="ko")
    assert_korean_like_english(english, korean)
    for test in ("test_dense_layer_parameters", "test_transition_parameters"):
        told = by_name(korean)[test]["message"]
        assert "편향 (bias)" in told and "bias=False" in told, told
    assert "기하급수적" in by_name(korean)["test_dense_channels"]["message"]
