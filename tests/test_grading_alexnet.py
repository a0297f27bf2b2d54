"""Grading the AlexNet assignment for real: reference, released stub, wrong and valid implementations.

Every notebook here goes through the sandbox and autograde_tests/test_alexnet.py exactly as a student's would.
Wrong implementations that touch different cells (and fail different hidden tests) share one submission.
"""
from __future__ import annotations

from textwrap import dedent

import pytest

from conftest import assert_korean_like_english, by_name, carried_forward, grade_released_stub

ASSIGNMENT = "alexnet"

ALL_TESTS = {
    "test_relu_values", "test_relu_keeps_dtype_and_device", "test_relu_leaves_input_unchanged",
    "test_relu_without_builtin", "test_relu_grad_matches_autograd", "test_relu_grad_keeps_dtype_and_device",
    "test_relu_module", "test_chain_grad_sigmoid", "test_chain_grad_tanh", "test_chain_grad_relu",
    "test_chain_grad_float_identity_and_errors", "test_alexnet_param_count", "test_alexnet_state_dict_layout",
    "test_alexnet_layers_and_arguments", "test_alexnet_output_shapes_on_meta",
    "test_alexnet_features_match_reference", "test_alexnet_forward_matches_reference",
}


def alexnet_source(widths=(64, 192, 384, 256, 256), dropout="dropout", num_classes="num_classes",
                   avgpool="nn.AdaptiveAvgPool2d((6, 6))", relu_after_conv5=True, classifier_dropout=True,
                   final_relu=False, act="nn.ReLU(inplace=True)", flatten="torch.flatten(x, 1)") -> str:
    """An AlexNet cell, correct by default; each argument switches on one plausible mistake."""
    c1, c2, c3, c4, c5 = widths
    conv5_act = f"{act}, " if relu_after_conv5 else ""
    drop = f"nn.Dropout(p={dropout}), " if classifier_dropout else ""
    last_act = f", {act}" if final_relu else ""
    return dedent(f"""\
        class AlexNet(nn.Module):
            def __init__(self, num_classes=1000, dropout=0.5):
                super().__init__()
                self.features = nn.Sequential(
                    nn.Conv2d(3, {c1}, kernel_size=11, stride=4, padding=2), {act}, nn.MaxPool2d(3, 2),
                    nn.Conv2d({c1}, {c2}, kernel_size=5, padding=2), {act}, nn.MaxPool2d(3, 2),
                    nn.Conv2d({c2}, {c3}, kernel_size=3, padding=1), {act},
                    nn.Conv2d({c3}, {c4}, kernel_size=3, padding=1), {act},
                    nn.Conv2d({c4}, {c5}, kernel_size=3, padding=1), {conv5_act}nn.MaxPool2d(3, 2),
                )
                self.avgpool = {avgpool}
                self.classifier = nn.Sequential(
                    {drop}nn.Linear({c5} * 6 * 6, 4096), {act},
                    {drop}nn.Linear(4096, 4096), {act},
                    nn.Linear(4096, {num_classes}){last_act},
                )

            def forward(self, x):
                x = self.features(x)
                x = self.avgpool(x)
                x = {flatten}
                return self.classifier(x)
        """)


# ---------------------------------------------------------------- plausible wrong implementations, by cell
RELU_GETATTR_BUILTIN = dedent("""\
    def relu(x):
        return getattr(torch, "re" + "lu")(x)   # hides the name from a static check; still the built-in
    """)
RELU_F_RELU = "def relu(x):\n    return F.relu(x)\n"
RELU_IN_PLACE = "def relu(x):\n    return x.clamp_(min=0)\n"
RELU_FLOAT_ZERO = "def relu(x):\n    return torch.where(x > 0, x, 0.0)\n"           # int64 -> float32
RELU_CLAMP_MAX = "def relu(x):\n    return x.clamp(max=0)\n"                       # min and max swapped
RELU_CPU_ZEROS = "def relu(x):\n    return torch.maximum(x, torch.zeros(x.shape, dtype=x.dtype))\n"

RELU_GRAD_BOOL = "def relu_grad(x):\n    return x > 0\n"
RELU_GRAD_ONE_AT_ZERO = "def relu_grad(x):\n    return (x >= 0).to(x.dtype)\n"
RELU_GRAD_FLOAT = "def relu_grad(x):\n    return (x > 0).float()\n"

MODULE_WITH_PARAMETER = dedent("""\
    class ReLU(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return relu(x) * self.scale
    """)
MODULE_F_RELU = dedent("""\
    class ReLU(nn.Module):
        def forward(self, x):
            return F.relu(x)
    """)

def chain_source(loop_body="grad, x = grad * df(x), f(x)", relu_slope="1.0 if x > 0 else 0.0",
                 unknown="raise ValueError(activation)") -> str:
    """A chain_grad cell, correct by default; each argument switches on one plausible mistake."""
    return dedent(f"""\
        def _sigmoid(x):
            return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))

        def chain_grad(activation, depth, x0):
            functions = {{
                "relu": (lambda x: max(x, 0.0), lambda x: {relu_slope}),
                "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
                "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
            }}
            if activation not in functions:
                {unknown}
            f, df = functions.get(activation, (lambda x: x, lambda x: 1.0))
            x, grad = float(x0), 1.0
            for _ in range(depth):
                {loop_body}
            return grad
        """)


CHAIN_ACTIVATION_VALUE = chain_source(loop_body="grad, x = grad * f(x), f(x)   # the value, not the slope")
CHAIN_SLOPE_AT_X0 = chain_source(loop_body="grad *= df(x0)   # the slope at x0 every time")
CHAIN_RELU_ONE_AT_ZERO = chain_source(relu_slope="1.0 if x >= 0 else 0.0")
CHAIN_NO_VALUE_ERROR = chain_source(unknown="pass   # unknown names silently accepted")
CHAIN_RETURNS_TENSOR = dedent("""\
    def chain_grad(activation, depth, x0):
        fns = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
        if activation not in fns:
            raise ValueError(activation)
        x = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
        y = x
        for _ in range(depth):
            y = fns[activation](y)
        if depth == 0:
            return torch.tensor(1.0, dtype=torch.float64)
        y.backward()
        return x.grad            # a tensor, not a float
    """)

# ---------------------------------------------------------------- valid alternatives
VALID_A = {
    "relu": "def relu(x):\n    return x.clamp(min=0)\n",
    "relu_grad": "def relu_grad(x):\n    return torch.where(x > 0, torch.ones_like(x), torch.zeros_like(x))\n",
    "relu_module": dedent("""\
        class ReLU(nn.Module):
            def __init__(self):
                super().__init__()

            def forward(self, x):
                out = relu(x)
                return out
        """),
    "chain_grad": dedent("""\
        def chain_grad(activation, depth, x0):
            fns = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
            if activation not in fns:
                raise ValueError(f"unknown activation {activation!r}")
            x = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
            y = x
            for _ in range(depth):
                y = fns[activation](y)
            if depth == 0:
                return 1.0
            (g,) = torch.autograd.grad(y, x)
            return g.item()
        """),
    # own ReLU() inside the network, an nn.Flatten module, AdaptiveAvgPool2d(6)
    "alexnet": alexnet_source(act="ReLU()", flatten="self.flatten(x)").replace(
        "self.avgpool = nn.AdaptiveAvgPool2d((6, 6))",
        "self.avgpool = nn.AdaptiveAvgPool2d(6)\n        self.flatten = nn.Flatten()"),
}
VALID_B = {
    # a helper bound to the name relu, and a quick test print in the cell: the bare name relu is the student's own
    "relu": dedent("""\
        def _positive_part(x):
            return x * (x > 0)

        relu = _positive_part
        print(relu(torch.tensor([-1.0, 2.0])))
        """),
    "relu_grad": "def relu_grad(x):\n    return (x > 0).type_as(x)\n",
    "chain_grad": dedent("""\
        import math

        def chain_grad(activation, depth, x0):
            if activation == "relu":
                return 1.0 if x0 > 0 or depth == 0 else 0.0
            if activation == "sigmoid":
                f = lambda v: 1 / (1 + math.exp(-v))
                df = lambda v: f(v) * (1 - f(v))
            elif activation == "tanh":
                f, df = math.tanh, lambda v: 1 / math.cosh(v) ** 2
            else:
                raise ValueError("activation must be relu, sigmoid or tanh")
            grad, x = 1.0, x0
            for _ in range(depth):
                grad, x = grad * df(x), f(x)
            return float(grad)
        """),
    # layers built by a helper loop; plain nn.ReLU(); flatten with start_dim
    "alexnet": dedent("""\
        def _conv_relu(cin, cout, k, s=1, p=0):
            return [nn.Conv2d(cin, cout, k, stride=s, padding=p), nn.ReLU()]

        class AlexNet(nn.Module):
            def __init__(self, num_classes=1000, dropout=0.5):
                super().__init__()
                layers = []
                spec = [(3, 64, 11, 4, 2, True), (64, 192, 5, 1, 2, True), (192, 384, 3, 1, 1, False),
                        (384, 256, 3, 1, 1, False), (256, 256, 3, 1, 1, True)]
                for cin, cout, k, s, p, pool in spec:
                    layers += _conv_relu(cin, cout, k, s, p)
                    if pool:
                        layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
                self.features = nn.Sequential(*layers)
                self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
                hidden = []
                for fan_in in (256 * 6 * 6, 4096):
                    hidden += [nn.Dropout(dropout), nn.Linear(fan_in, 4096), nn.ReLU()]
                self.classifier = nn.Sequential(*hidden, nn.Linear(4096, num_classes))

            def forward(self, x):
                return self.classifier(torch.flatten(self.avgpool(self.features(x)), start_dim=1))
        """),
}


def failed(result: dict) -> set[str]:
    return {t["name"] for t in result["tests"] if t["outcome"] != "passed"}


def message(result: dict, name: str) -> str:
    return by_name(result)[name]["message"]


def not_credited(result: dict, *tests: str) -> set[str]:
    """Assert that these structural tests passed their own checks but lost their points because the whole forward
    pass differs from the reference's (``@pytest.mark.confirmed_by``); their names."""
    for test in tests:
        entry = by_name(result)[test]
        assert entry["outcome"] == "failed" and entry["points"] == 0, (test, entry)
        assert entry["message"].startswith("Not credited yet"), (test, entry["message"])
    return set(tests)


def assert_failed_exactly(result: dict, expected: set[str]) -> None:
    got = failed(result)
    details = {t["name"]: t["message"][:300] for t in result["tests"] if t["name"] in got ^ expected}
    assert got == expected, f"failed {sorted(got)}, expected {sorted(expected)}; {details}"
    assert result["score"] == result["max_score"] - sum(by_name(result)[n]["max_points"] for n in expected)


# ---------------------------------------------------------------- tests
def test_hidden_tests_cover_the_contract(solution_results):
    result = solution_results[ASSIGNMENT]
    assert {t["name"] for t in result["tests"]} == ALL_TESTS
    assert all(t["title"] and t["max_points"] >= 1 for t in result["tests"])
    assert 20 <= result["max_score"] <= 40


def test_reference_solution_gets_full_marks(solution_results):
    result = solution_results[ASSIGNMENT]
    assert result["status"] == "graded", result["status"]
    assert result["score"] == result["max_score"], [(t["name"], t["message"][:300]) for t in result["tests"]
                                                    if t["outcome"] != "passed"]


def test_released_stub_gets_zero(submit):
    result = grade_released_stub(submit, ASSIGNMENT)
    assert "NotImplementedError" in message(result, "test_relu_values")


@pytest.mark.parametrize("replace", [VALID_A, VALID_B], ids=["clamp-autograd-ownReLU", "mask-math-helperloop"])
def test_valid_alternatives_keep_full_marks(submit, replace):
    result = submit(ASSIGNMENT, replace)
    assert result["score"] == result["max_score"], [(t["name"], t["message"][:400]) for t in result["tests"]
                                                    if t["outcome"] != "passed"]


def test_hidden_builtin_relu_bool_slope_value_chain_and_2012_widths(submit):
    result = submit(ASSIGNMENT, {"relu": RELU_GETATTR_BUILTIN, "relu_grad": RELU_GRAD_BOOL,
                                 "chain_grad": CHAIN_ACTIVATION_VALUE,
                                 "alexnet": alexnet_source(widths=(96, 256, 384, 384, 256))})
    assert_failed_exactly(result, {"test_relu_without_builtin", "test_relu_grad_keeps_dtype_and_device",
                                   "test_chain_grad_sigmoid", "test_chain_grad_tanh", "test_chain_grad_relu",
                                   "test_alexnet_param_count", "test_alexnet_state_dict_layout",
                                   "test_alexnet_features_match_reference", "test_alexnet_forward_matches_reference"}
                          | not_credited(result, "test_alexnet_layers_and_arguments"))
    assert "while running" in message(result, "test_relu_without_builtin")   # caught dynamically, not statically
    assert "bool" in message(result, "test_relu_grad_keeps_dtype_and_device")
    for name in ("test_chain_grad_sigmoid", "test_chain_grad_tanh", "test_chain_grad_relu"):
        assert "slope" in message(result, name)
    assert "62,378,344" in message(result, "test_alexnet_param_count")
    assert "96-256-384-384-256" in message(result, "test_alexnet_param_count")
    assert "wrong shapes" in message(result, "test_alexnet_state_dict_layout")


def test_f_relu_one_at_zero_parameter_in_module_slope_at_x0_and_ignored_arguments(submit):
    result = submit(ASSIGNMENT, {"relu": RELU_F_RELU, "relu_grad": RELU_GRAD_ONE_AT_ZERO,
                                 "relu_module": MODULE_WITH_PARAMETER, "chain_grad": CHAIN_SLOPE_AT_X0,
                                 "alexnet": alexnet_source(dropout="0.5", num_classes="1000")})
    assert_failed_exactly(result, {"test_relu_without_builtin", "test_relu_grad_matches_autograd",
                                   "test_relu_module", "test_chain_grad_sigmoid", "test_chain_grad_tanh",
                                   "test_alexnet_layers_and_arguments", "test_alexnet_output_shapes_on_meta",
                                   "test_alexnet_forward_matches_reference"}
                          | not_credited(result, "test_alexnet_param_count", "test_alexnet_state_dict_layout"))
    assert "built-in relu: relu" in message(result, "test_relu_without_builtin")   # the static check
    assert "exactly 0" in message(result, "test_relu_grad_matches_autograd")
    assert "parameters" in message(result, "test_relu_module")
    assert "each layer's own input" in message(result, "test_chain_grad_tanh")
    assert "dropout argument" in message(result, "test_alexnet_layers_and_arguments")
    assert "num_classes" in message(result, "test_alexnet_output_shapes_on_meta")
    assert "num_classes" in message(result, "test_alexnet_forward_matches_reference")


def test_alexnet_relu_after_last_linear_and_relu_clamping_the_wrong_side(submit):
    result = submit(ASSIGNMENT, {"alexnet": alexnet_source(final_relu=True), "relu": RELU_CLAMP_MAX})
    carried_forward(result, "relu", "test_relu_module")   # ReLU's values are wrong only because relu's are
    assert_failed_exactly(result, {"test_alexnet_layers_and_arguments", "test_alexnet_forward_matches_reference",
                                   "test_relu_values", "test_relu_keeps_dtype_and_device",
                                   "test_relu_without_builtin"}
                          | not_credited(result, "test_alexnet_param_count", "test_alexnet_state_dict_layout"))
    assert "no ReLU or softmax after the last Linear" in message(result, "test_alexnet_layers_and_arguments")
    assert "classifier" in message(result, "test_alexnet_forward_matches_reference")   # located by the diagnosis


def test_in_place_relu_float_slope_relu_chain_at_zero_and_missing_adaptive_pool(submit):
    result = submit(ASSIGNMENT, {"relu": RELU_IN_PLACE, "relu_grad": RELU_GRAD_FLOAT,
                                 "chain_grad": CHAIN_RELU_ONE_AT_ZERO,
                                 "alexnet": alexnet_source(avgpool="nn.Identity()")})
    assert_failed_exactly(result, {"test_relu_leaves_input_unchanged",
                                   "test_relu_grad_keeps_dtype_and_device", "test_chain_grad_relu",
                                   "test_alexnet_layers_and_arguments", "test_alexnet_output_shapes_on_meta",
                                   "test_alexnet_forward_matches_reference"}
                          | not_credited(result, "test_alexnet_param_count", "test_alexnet_state_dict_layout"))
    assert "in place" in message(result, "test_relu_leaves_input_unchanged")
    carried_forward(result, "relu", "test_relu_module")   # ReLU changes its input only because relu does
    assert "float64" in message(result, "test_relu_grad_keeps_dtype_and_device")
    assert "0 at exactly 0" in message(result, "test_chain_grad_relu")
    assert "AdaptiveAvgPool2d" in message(result, "test_alexnet_layers_and_arguments")
    assert "adaptive average pool" in message(result, "test_alexnet_output_shapes_on_meta")
    assert "avgpool" in message(result, "test_alexnet_forward_matches_reference")


def test_float_zero_relu_builtin_in_module_no_value_error_and_missing_relu(submit):
    result = submit(ASSIGNMENT, {"relu": RELU_FLOAT_ZERO, "relu_module": MODULE_F_RELU,
                                 "chain_grad": CHAIN_NO_VALUE_ERROR,
                                 "alexnet": alexnet_source(relu_after_conv5=False)})
    assert_failed_exactly(result, {"test_relu_keeps_dtype_and_device", "test_relu_module",
                                   "test_chain_grad_float_identity_and_errors", "test_alexnet_layers_and_arguments",
                                   "test_alexnet_features_match_reference", "test_alexnet_forward_matches_reference"}
                          | not_credited(result, "test_alexnet_param_count", "test_alexnet_state_dict_layout"))
    assert "int64" in message(result, "test_relu_keeps_dtype_and_device")
    assert "dtype" in message(result, "test_relu_keeps_dtype_and_device")
    assert "instead of your relu" in message(result, "test_relu_module")
    assert "ValueError" in message(result, "test_chain_grad_float_identity_and_errors")
    assert "ReLU after every conv" in message(result, "test_alexnet_features_match_reference")


def test_cpu_zeros_relu_tensor_chain_and_missing_dropout_layers(submit):
    result = submit(ASSIGNMENT, {"relu": RELU_CPU_ZEROS, "chain_grad": CHAIN_RETURNS_TENSOR,
                                 "alexnet": alexnet_source(classifier_dropout=False)})
    assert_failed_exactly(result, {"test_relu_keeps_dtype_and_device", "test_chain_grad_float_identity_and_errors",
                                   "test_alexnet_state_dict_layout", "test_alexnet_layers_and_arguments",
                                   "test_alexnet_forward_matches_reference"}
                          | not_credited(result, "test_alexnet_param_count"))
    assert "meta" in message(result, "test_relu_keeps_dtype_and_device")
    assert "device" in message(result, "test_relu_keeps_dtype_and_device")
    assert "Python float" in message(result, "test_chain_grad_float_identity_and_errors")
    assert "Dropout" in message(result, "test_alexnet_state_dict_layout")
    assert "Dropout" in message(result, "test_alexnet_layers_and_arguments")


def test_reference_grading_time(solution_results, submit):
    """Grading one submission (cells + hidden tests) stays fast in a warm worker."""
    solution_results[ASSIGNMENT]   # warm: zygote, reference, cached reference outputs
    result = submit(ASSIGNMENT)
    print(f"alexnet reference graded in {result['seconds']:.3f} s (warm)")
    assert result["score"] == result["max_score"]
    assert result["seconds"] < 10


def test_wrong_implementations_graded_in_korean(submit):
    """--lang ko: the 2012 widths, a hidden built-in relu, a bool slope and value-not-slope chain are told in
    Korean, with the same points, totals and code names as in English."""
    replace = {"relu": RELU_GETATTR_BUILTIN, "relu_grad": RELU_GRAD_BOOL,
               "chain_grad": CHAIN_ACTIVATION_VALUE,
               "alexnet": alexnet_source(widths=(96, 256, 384, 384, 256))}
    english, korean = submit(ASSIGNMENT, replace), submit(ASSIGNMENT, replace, lang="ko")
    assert_korean_like_english(english, korean)
    total = message(korean, "test_alexnet_param_count")
    assert "62,378,344" in total and "96-256-384-384-256" in total and "2012년" in total, total
    assert "features.0.weight" in message(korean, "test_alexnet_state_dict_layout")
    assert "torch.bool" in message(korean, "test_relu_grad_keeps_dtype_and_device")
