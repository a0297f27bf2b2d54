"""The VGG hidden tests, run for real through the sandbox on whole notebooks.

The reference gets full marks, the released stub gets nothing, plausible wrong
implementations of every graded cell lose points in the right test with a
message that names the mistake, and valid alternatives keep full marks.
"""
from __future__ import annotations

import re

import pytest

from conftest import carried_forward, failed, not_credited, passed, assert_full_marks, grade_released_stub

ID = "vgg"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def only_failed(result: dict, *tests: str) -> None:
    """Exactly these tests lost points; every other one kept its full marks."""
    lost = sorted(t["name"] for t in result["tests"] if t["points"] != t["max_points"])
    assert lost == sorted(tests), [(t["name"], t["message"][:300]) for t in result["tests"] if t["name"] in lost]


# --- plausible wrong implementations (full replacement sources of one graded cell) -------------------------------

CONV_BIAS_BY_DEFAULT = '''
def conv_params(kernel_size, in_channels, out_channels, bias=True):   # nn.Conv2d's default
    return kernel_size * kernel_size * in_channels * out_channels + (out_channels if bias else 0)
'''

STACKED_ONE_CHANNEL_FACTOR = '''
def stacked_conv_params(kernel_size, channels, depth, bias=False):
    return kernel_size * kernel_size * channels * depth + (depth * channels if bias else 0)
'''

STACKED_BIAS_BY_DEFAULT = '''
def stacked_conv_params(kernel_size, channels, depth, bias=True):
    return depth * conv_params(kernel_size, channels, channels, bias=bias)
'''

RF_IGNORES_STRIDES = '''
def receptive_field(kernel_sizes, strides=None):
    return 1 + sum(k - 1 for k in kernel_sizes)
'''

RF_OWN_STRIDE_FIRST = '''
def receptive_field(kernel_sizes, strides=None):
    strides = strides or [1] * len(kernel_sizes)
    r, jump = 1, 1
    for k, s in zip(kernel_sizes, strides):
        jump *= s
        r += (k - 1) * jump
    return r
'''

RF_WRONG_DIRECTION = '''
def receptive_field(kernel_sizes, strides=None):
    strides = strides or [1] * len(kernel_sizes)
    r = 1
    for k, s in zip(kernel_sizes, strides):   # the output-to-input recursion, walked from the input
        r = (r - 1) * s + k
    return r
'''

ERF_TEMPLATE = '''
def empirical_receptive_field(model, in_channels, size=33):
    device = next(model.parameters()).device
    was_training = model.training
    EVAL
    x = torch.randn(16, in_channels, SIZE, SIZE, device=device, requires_grad=True)
    out = model(x)
    TARGET
    (grad,) = torch.autograd.grad(target, x)
    RESTORE
    seen = grad.abs().sum(dim=(0, 1)) != 0
    rows = seen.any(dim=1).nonzero()
    return int(rows.max() - rows.min()) + 1
'''
CENTRE = "target = out[:, :, out.shape[-2] // 2, out.shape[-1] // 2].sum()"


def erf_source(eval_: str = "model.eval()", size: str = "size", target: str = CENTRE,
               restore: str = "model.train(was_training)") -> str:
    return (ERF_TEMPLATE.replace("EVAL", eval_).replace("SIZE", size).replace("TARGET", target)
            .replace("RESTORE", restore))


ERF_WHOLE_OUTPUT = erf_source(target="target = out.sum()")
ERF_NO_EVAL = erf_source(eval_="pass", restore="pass")
ERF_NOT_RESTORED = erf_source(restore="pass")
ERF_FIXED_SIZE = erf_source(size="33")
ERF_CORNER = erf_source(target="target = out[:, :, 0, 0].sum()")
ERF_INPUT_CENTRE = erf_source(target="target = out[:, :, size // 2, size // 2].sum()")

BLOCK_TEMPLATE = '''
def vgg_block(in_channels, out_channels, num_convs):
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=PADDING, bias=BIAS)RELU]
        in_channels = out_channels
    POOL
    return nn.Sequential(*layers)
'''


def block_source(padding: str = "1", bias: str = "True", relu: bool = True,
                 pool: str = "layers.append(nn.MaxPool2d(kernel_size=2, stride=2))") -> str:
    return (BLOCK_TEMPLATE.replace("PADDING", padding).replace("BIAS", bias)
            .replace("RELU", ", nn.ReLU(inplace=True)" if relu else "").replace("POOL", pool))


BLOCK_NO_PADDING = block_source(padding="0")
BLOCK_NO_RELU = block_source(relu=False)
BLOCK_AVG_POOL = block_source(pool="layers.append(nn.AvgPool2d(kernel_size=2, stride=2))")
BLOCK_NO_POOL = block_source(pool="pass")
BLOCK_NO_BIAS = block_source(bias="False")

VGG_TEMPLATE = '''
class VGG(nn.Module):
    def __init__(self, features, num_classes=1000):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(CLASSIFIER)

    def forward(self, x):
        x = FORWARD
        return self.classifier(torch.flatten(x, 1))


def make_features(blocks, in_channels=3):
    layers = []
    for num_convs, out_channels in blocks:
        FEATURES
        in_channels = out_channels
    return nn.Sequential(*layers)


def vgg16(num_classes=1000):
    return VGG(make_features([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]), NUM_CLASSES)


def vgg19(num_classes=1000):
    return VGG(make_features(VGG19_CONFIG), NUM_CLASSES)
'''
CLASSIFIER = ("nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(True), "
              "nn.Dropout(0.5), nn.Linear(4096, num_classes)")


def vgg_source(classifier: str = CLASSIFIER, forward: str = "self.avgpool(self.features(x))",
               features: str = "layers.extend(vgg_block(in_channels, out_channels, num_convs))",
               vgg19_config: str = "[(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]",
               num_classes: str = "num_classes=num_classes") -> str:
    return (VGG_TEMPLATE.replace("CLASSIFIER", classifier).replace("FORWARD", forward)
            .replace("FEATURES", features).replace("VGG19_CONFIG", vgg19_config).replace("NUM_CLASSES", num_classes))


VGG_NESTED = vgg_source(features="layers.append(vgg_block(in_channels, out_channels, num_convs))")
VGG_NO_DROPOUT = vgg_source(classifier="nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Linear(4096, 4096), "
                                       "nn.ReLU(True), nn.Linear(4096, num_classes)")
VGG19_WITH_VGG16_CONFIG = vgg_source(vgg19_config="[(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]")
VGG_IGNORES_NUM_CLASSES = vgg_source(num_classes="num_classes=1000")
VGG_FORWARD_SKIPS_AVGPOOL = vgg_source(forward="self.features(x)")


# --- valid alternatives -------------------------------------------------------------------------------------------

VALID_A = {
    "conv_params": '''
def conv_params(kernel_size, in_channels, out_channels, bias=False):
    count = in_channels * out_channels * kernel_size ** 2
    if bias:
        count += out_channels
    return count
''',
    "stacked_conv_params": '''
def stacked_conv_params(kernel_size, channels, depth, bias=False):
    return sum(conv_params(kernel_size, channels, channels, bias) for _ in range(depth))
''',
    # the output-to-input recursion, walked in reverse order
    "receptive_field": '''
def receptive_field(kernel_sizes, strides=None):
    kernel_sizes = list(kernel_sizes)
    strides = [1] * len(kernel_sizes) if strides is None else list(strides)
    r = 1
    for k, s in reversed(list(zip(kernel_sizes, strides))):
        r = (r - 1) * s + k
    return r
''',
    # .backward() on a leaf input, 8 inputs, torch.where for the extent
    "empirical_receptive_field": '''
def empirical_receptive_field(model, in_channels, size=33):
    p = next(iter(model.parameters()))
    mode = model.training
    model.train(False)
    x = torch.randn(8, in_channels, size, size, device=p.device, dtype=p.dtype).requires_grad_()
    y = model(x)
    h, w = y.shape[2] // 2, y.shape[3] // 2
    y[..., h, w].sum().backward()
    model.train(mode)
    ys, xs = torch.where(x.grad.abs().amax(dim=(0, 1)) > 0)
    return max(int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1))
''',
    # padding="same", a non-inplace ReLU, MaxPool2d(2) (stride defaults to the kernel size)
    "vgg_block": '''
def vgg_block(in_channels, out_channels, num_convs):
    layers = []
    for i in range(num_convs):
        layers.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding="same"))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)
''',
    # one helper, a comprehension over the blocks, x.view, AdaptiveAvgPool2d(7), no custom initialisation
    "vgg": '''
CFG = {16: [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 19: [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]}


class VGG(nn.Module):
    def __init__(self, depth, num_classes=1000):
        super().__init__()
        widths = [3] + [c for _, c in CFG[depth]]
        self.features = nn.Sequential(*[layer for (n, c), c_in in zip(CFG[depth], widths)
                                        for layer in vgg_block(c_in, c, n)])
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(*[
            nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, num_classes)])

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.view(x.size(0), -1))


def vgg16(num_classes=1000):
    return VGG(16, num_classes)


def vgg19(num_classes=1000):
    return VGG(19, num_classes=num_classes)
''',
}

VALID_B = {
    # a try/finally, float64 inputs cast to the model's dtype, a nonzero()-based extent over the summed gradient
    "empirical_receptive_field": '''
def empirical_receptive_field(model, in_channels, size=33):
    param = next(model.parameters())
    training = model.training
    try:
        model.eval()
        x = torch.rand(32, in_channels, size, size, dtype=torch.float64).to(param) * 2 - 1
        x.requires_grad_(True)
        out = model(x)
        g = torch.autograd.grad(out[:, :, out.size(2) // 2, out.size(3) // 2].sum(), x)[0]
    finally:
        model.train(training)
    where = (g != 0).any(dim=0).any(dim=0).nonzero()
    return int((where.max(dim=0).values - where.min(dim=0).values + 1).max())
''',
    # a list comprehension of the layers, the pool created with keyword arguments first
    "vgg_block": '''
def vgg_block(in_channels, out_channels, num_convs):
    channels = [in_channels] + [out_channels] * num_convs
    convs = [(nn.Conv2d(channels[i], channels[i + 1], kernel_size=(3, 3), stride=1, padding=(1, 1)),
              nn.ReLU(inplace=True)) for i in range(num_convs)]
    pool = nn.MaxPool2d(kernel_size=2, stride=2, padding=0)
    return nn.Sequential(*[m for pair in convs for m in pair], pool)
''',
    "receptive_field": '''
def receptive_field(kernel_sizes, strides=None):
    if strides is None:
        strides = (1,) * len(kernel_sizes)
    r, jump = 1, 1
    for k, s in zip(kernel_sizes, strides):
        r, jump = r + (k - 1) * jump, jump * s
    return r
''',
    "vgg": vgg_source(forward="torch.nn.functional.adaptive_avg_pool2d(self.features(x), (7, 7))"),
}


# --- tests --------------------------------------------------------------------------------------------------------

def test_reference_gets_full_marks(solution_results):
    assert_full_marks(solution_results[ID])
    assert solution_results[ID]["max_score"] <= 40


def test_released_stub_gets_nothing(submit):
    grade_released_stub(submit, ID)


def test_biases_by_default_ignored_strides_whole_output_and_no_padding(submit):
    result = submit(ID, {"conv_params": CONV_BIAS_BY_DEFAULT, "receptive_field": RF_IGNORES_STRIDES,
                         "empirical_receptive_field": ERF_WHOLE_OUTPUT, "vgg_block": BLOCK_NO_PADDING})
    failed(result, "test_conv_params", "147,584 ≠ 147,456", "128 biases", "bias=False")
    failed(result, "test_receptive_field", "strides are ignored", "j *= s")
    failed(result, "test_empirical_receptive_field_stride_one", "centre output pixel only")
    failed(result, "test_empirical_receptive_field_strides_and_pools", "centre output pixel only")
    failed(result, "test_empirical_receptive_field_leaves_model_alone", "centre output pixel only")
    failed(result, "test_vgg_block_matches_reference", "padding=1")
    # vgg_block does not run on the inputs VGG gives it: VGG's tests name it, and do not judge VGG
    failed(result, "test_vgg16_features_match_reference", "cannot be judged yet", "fix `vgg_block` first")
    failed(result, "test_vgg_output_shapes_on_meta", "cannot be judged yet", "fix `vgg_block` first")
    passed(result, "test_stacked_conv_params")
    # right structure, wrong forward: the structural tests are not credited while the forward tests fail
    not_credited(result, "test_vgg_block_layers", "test_vgg_parameter_counts", "test_vgg_state_dict_layout",
                 "test_vgg_structure")


def test_one_channel_factor_own_stride_no_eval_and_no_relu(submit):
    result = submit(ID, {"stacked_conv_params": STACKED_ONE_CHANNEL_FACTOR, "receptive_field": RF_OWN_STRIDE_FIRST,
                         "empirical_receptive_field": ERF_NO_EVAL, "vgg_block": BLOCK_NO_RELU})
    failed(result, "test_stacked_conv_params", "channels appears twice")
    failed(result, "test_receptive_field", "only affects the layers after it")
    failed(result, "test_empirical_receptive_field_leaves_model_alone", "BatchNorm", "eval()")
    failed(result, "test_vgg_block_layers", "ReLU follows every 3x3 convolution")
    failed(result, "test_vgg_block_matches_reference", "ReLU after each 3x3 convolution is missing")
    # VGG is wired right given its vgg_block: the block's mistake is charged once, in the vgg_block tests
    carried_forward(result, "vgg_block", "test_vgg_state_dict_layout", "test_vgg_structure",
                    "test_vgg16_features_match_reference")
    passed(result, "test_conv_params", "test_empirical_receptive_field_stride_one",
           "test_empirical_receptive_field_strides_and_pools", "test_vgg_output_shapes_on_meta",
           "test_vgg_parameter_counts")


def test_stacked_biases_by_default_mode_not_restored_avg_pool_wrong_direction(submit):
    result = submit(ID, {"stacked_conv_params": STACKED_BIAS_BY_DEFAULT, "empirical_receptive_field": ERF_NOT_RESTORED,
                         "vgg_block": BLOCK_AVG_POOL, "receptive_field": RF_WRONG_DIRECTION})
    entry = failed(result, "test_stacked_conv_params", "bias=False")
    assert "parameter count 295,168 ≠ 294,912: the difference is 2×128 biases — the lecture's count uses " \
           "bias=False" in entry["message"], entry["message"]
    failed(result, "test_empirical_receptive_field_leaves_model_alone", "training mode before the call",
           "model.train(was_training)")
    failed(result, "test_vgg_block_layers", "max-pool")
    failed(result, "test_vgg_block_matches_reference", "average pooling")
    failed(result, "test_receptive_field", "reverse order")
    carried_forward(result, "vgg_block", "test_vgg_structure", "test_vgg16_features_match_reference")
    passed(result, "test_conv_params", "test_empirical_receptive_field_stride_one",
           "test_empirical_receptive_field_strides_and_pools", "test_vgg_parameter_counts",
           "test_vgg_state_dict_layout")


def test_fixed_input_size_and_block_without_pool(submit):
    result = submit(ID, {"empirical_receptive_field": ERF_FIXED_SIZE, "vgg_block": BLOCK_NO_POOL})
    failed(result, "test_empirical_receptive_field_strides_and_pools", "clipped", "size")
    failed(result, "test_vgg_block_layers", "max-pool")
    failed(result, "test_vgg_block_matches_reference", "max-pool with stride 2 at the end is missing")
    carried_forward(result, "vgg_block", "test_vgg_state_dict_layout", "test_vgg_output_shapes_on_meta",
                    "test_vgg_structure", "test_vgg16_features_match_reference")
    passed(result, "test_empirical_receptive_field_stride_one", "test_empirical_receptive_field_leaves_model_alone",
           "test_receptive_field", "test_conv_params", "test_stacked_conv_params")


def test_corner_pixel_and_convs_without_bias(submit):
    # vgg without torchvision's initialisation (which would fail on the missing biases first)
    result = submit(ID, {"empirical_receptive_field": ERF_CORNER, "vgg_block": BLOCK_NO_BIAS, "vgg": vgg_source()})
    failed(result, "test_empirical_receptive_field_stride_one", "centre of the output")
    failed(result, "test_vgg_block_layers", "no bias")
    failed(result, "test_vgg_block_matches_reference", "no bias")
    carried_forward(result, "vgg_block", "test_vgg_parameter_counts", "test_vgg_state_dict_layout",
                    "test_vgg16_features_match_reference")
    passed(result, "test_conv_params", "test_stacked_conv_params", "test_receptive_field",
           "test_vgg_output_shapes_on_meta", "test_vgg_structure")


def test_input_centre_and_nested_features(submit):
    result = submit(ID, {"empirical_receptive_field": ERF_INPUT_CENTRE, "vgg": VGG_NESTED})
    failed(result, "test_empirical_receptive_field_strides_and_pools", "IndexError", "centre of the model's *output*")
    failed(result, "test_vgg_state_dict_layout", "nested", "ONE flat nn.Sequential")
    failed(result, "test_vgg_structure", "nested")
    only_failed(result, "test_empirical_receptive_field_strides_and_pools", "test_vgg_state_dict_layout",
                "test_vgg_structure")


def test_classifier_without_dropout(submit):
    result = submit(ID, {"vgg": VGG_NO_DROPOUT})
    failed(result, "test_vgg_state_dict_layout", "indices 0, 3 and 6")
    failed(result, "test_vgg_structure", "Dropout")
    only_failed(result, "test_vgg_state_dict_layout", "test_vgg_structure")


def test_vgg19_built_with_vgg16_config(submit):
    result = submit(ID, {"vgg": VGG19_WITH_VGG16_CONFIG})
    failed(result, "test_vgg_parameter_counts", "VGG16's count", "2-2-4-4-4")
    failed(result, "test_vgg_state_dict_layout", "2-2-4-4-4")
    failed(result, "test_vgg_structure", "16 3x3 convs")
    only_failed(result, "test_vgg_parameter_counts", "test_vgg_state_dict_layout", "test_vgg_structure")


def test_num_classes_ignored_and_forward_without_avgpool(submit):
    result = submit(ID, {"vgg": VGG_IGNORES_NUM_CLASSES})
    failed(result, "test_vgg_parameter_counts", "num_classes is ignored")
    failed(result, "test_vgg_state_dict_layout", "num_classes")
    failed(result, "test_vgg_output_shapes_on_meta", "num_classes")
    only_failed(result, "test_vgg_parameter_counts", "test_vgg_state_dict_layout", "test_vgg_output_shapes_on_meta")
    result = submit(ID, {"vgg": VGG_FORWARD_SKIPS_AVGPOOL})
    failed(result, "test_vgg_output_shapes_on_meta", "AdaptiveAvgPool2d((7, 7))")
    only_failed(result, "test_vgg_output_shapes_on_meta")


@pytest.mark.parametrize("replace", [VALID_A, VALID_B],
                         ids=["reverse-recursion-same-padding", "try-finally-comprehension"])
def test_valid_alternatives_keep_full_marks(submit, replace):
    result = submit(ID, replace)
    assert result["score"] == result["max_score"], [t for t in result["tests"] if t["outcome"] != "passed"]


def test_wrong_counts_strides_mode_and_block_explained_in_korean(submit):
    """--lang ko: the same tests lose their points, and their titles and messages are Korean, still carrying the
    English run's numbers and code (the messages' English is asserted in the tests above)."""
    result = submit(ID, {"conv_params": CONV_BIAS_BY_DEFAULT, "stacked_conv_params": STACKED_BIAS_BY_DEFAULT,
                         "receptive_field": RF_IGNORES_STRIDES, "empirical_receptive_field": ERF_NOT_RESTORED,
                         "vgg_block": BLOCK_NO_RELU}, lang="ko")
    expected = {
        "test_conv_params": ["conv_params(3, 128, 128)", "147,584 ≠ 147,456", "편향 (bias) 128개", "bias=False"],
        "test_stacked_conv_params": ["stacked_conv_params(3, 128, 2)", "295,168 ≠ 294,912",
                                     "편향 (bias) 2×128개"],
        "test_receptive_field": ["스트라이드 (stride)를 무시했습니다", "j *= s", "(k − 1)·j"],
        "test_empirical_receptive_field_leaves_model_alone": [
            "학습 모드 (train)였는데, 호출 후에는 평가 모드 (eval)", "model.train(was_training)"],
        "test_vgg_block_layers": ["vgg_block(64, 128, 2)", "nn.ReLU(inplace=True)", "ReLU가 옵니다"],
        "test_vgg_block_matches_reference": ["vgg_block(4, 6, 2)", "(2, 4, 9, 9)", "ReLU가 빠졌습니다"],
    }
    for test, words in expected.items():
        entry = failed(result, test, *words)
        assert HANGUL.search(entry["title"]), (test, entry["title"])
    only_failed(result, *expected)
