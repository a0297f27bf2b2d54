"""The hidden-test toolkit's own rules (grader/checks): one call policy, tables of causes, seeded builders."""
from __future__ import annotations

import copy

import pytest
import torch

from grader.checks import (CheckFailed, call, cause_of_all, diagnose, explained, load_weights, on_meta,
                           reference_case, seeded, tolerance)
from grader.sandbox.client import SandboxError, SandboxTimeout, StudentRaised, StudentTimeout


def raising(err: BaseException):
    def fn(*args, **kwargs):
        raise err
    return fn


def test_the_released_stub_and_timeouts_pass_through_to_the_plugin():
    stub = StudentRaised("NotImplementedError", ["NotImplementedError", "RuntimeError"], "", "cell relu, line 4")
    timeout = StudentTimeout(10.0)
    for err in (stub, timeout, SandboxTimeout("the sandbox was stopped"), SandboxError("crashed")):
        with pytest.raises(type(err)) as caught:
            call("relu(x)", raising(err), hint="never shown")
        assert caught.value is err   # unchanged: the plugin words each of them once, for every test


def test_any_other_error_of_the_students_code_says_what_was_checked_and_why():
    err = StudentRaised("RuntimeError", ["RuntimeError"], "mat1 and mat2 shapes cannot be multiplied", "cell vgg")
    with pytest.raises(CheckFailed, match=r"^vgg16\(\)\(x\): your code raised RuntimeError: mat1.*\ncell vgg\n"
                                          r"Likely cause: the pool is missing$"):
        with explained("vgg16()(x)", explain=lambda e: "the pool is missing" if "mat1" in e.message else ""):
            raising(err)()
    torch_meta = StudentRaised("NotImplementedError", ["NotImplementedError"], "Could not run on the 'Meta' backend")
    with pytest.raises(CheckFailed, match="your code raised NotImplementedError: Could not run"):
        call("relu(meta x)", raising(torch_meta))   # torch's own NotImplementedError is not the stub


def test_on_meta_tells_a_device_error_from_any_other():
    device = StudentRaised("RuntimeError", ["RuntimeError"], "Expected all tensors to be on the same device")
    other = StudentRaised("ValueError", ["ValueError"], "bad channels")
    with pytest.raises(CheckFailed, match="Likely cause: create tensors on x.device$"):
        on_meta("Block() on meta", raising(device), "create tensors on x.device")
    with pytest.raises(CheckFailed, match="this error is not about devices.*for this function\\)$"):
        on_meta("f() on meta", raising(other), "create tensors on x.device", "function")


def test_the_cause_named_is_the_one_formula_that_explains_every_wrong_answer():
    formulas = [(lambda ks: sum(ks), "counts k, not k - 1"), (lambda ks: 1 + sum(k - 1 for k in ks) + 1, "+1")]
    assert cause_of_all([(([3, 3],), 6), (([5],), 5)], formulas) == "counts k, not k - 1"
    assert cause_of_all([(([3, 3],), 6), (([5],), 4)], formulas) == ""


def test_seeded_builders_leave_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        first = torch.nn.Linear(4, 2).weight.detach().clone()
    assert torch.equal(torch.rand(3), expected)
    torch.manual_seed(123)
    _, _, outs = reference_case(lambda: torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3)),
                                (2, 2, 5, 5), "cpu", seed=7)
    assert set(outs) == {"eval", "train"} and torch.equal(torch.rand(3), expected)
    with seeded(7):
        again = torch.nn.Linear(4, 2).weight.detach()
    assert torch.equal(first, again)


def test_a_wrong_output_is_explained_by_the_variant_it_equals():
    ref, x, outs = reference_case(lambda: torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU()),
                                  (2, 2, 5, 5), "cpu", train=False)
    no_relu = ref[0](x)
    variants = lambda r: [(r[0](x) * 2, "doubled"), (r[0](x), "the ReLU is missing")]  # noqa: E731
    assert diagnose(no_relu, outs["eval"], ref, "eval", variants) == "the ReLU is missing"
    assert diagnose(outs["eval"], outs["eval"], ref, "eval", variants) == ""


def test_weights_load_by_name_else_by_shape_and_tolerances_come_from_one_table():
    ref = torch.nn.Sequential(torch.nn.Linear(3, 2))
    same_names, other_names = torch.nn.Sequential(torch.nn.Linear(3, 2)), torch.nn.Module()
    other_names.fc = torch.nn.Linear(3, 2)
    assert load_weights(same_names, ref) == "by name" and load_weights(other_names, ref.state_dict()) == "by shape"
    assert torch.equal(other_names.fc.weight, ref[0].weight)
    with pytest.raises(CheckFailed, match="do not line up with the reference's"):
        load_weights(torch.nn.Linear(3, 3), ref)
    assert tolerance("cpu") == {"atol": 1e-5, "rtol": 1e-4} and tolerance("cuda", torch.float64)["atol"] == 1e-7


def test_a_hybrid_in_training_mode_shares_the_skeletons_weights_and_leaves_its_statistics_alone():
    """The hybrid (and the reference part it is compared with) reuse the skeleton's weight tensors instead of
    copying them, but a pass in training mode updates only the copies' batch-norm statistics, and runs in the
    mode asked for, whatever the skeleton's own."""
    from grader.checks.composite import copy_sharing_weights, hybrid_output

    torch.manual_seed(0)
    skeleton = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2),
                                   torch.nn.Sequential(torch.nn.Conv2d(2, 2, 1), torch.nn.BatchNorm2d(2))).eval()
    copied = copy_sharing_weights(skeleton)
    assert all(a is b for a, b in zip(copied.parameters(), skeleton.parameters()))
    assert all(a is not b for a, b in zip(copied.buffers(), skeleton.buffers()))
    before = {k: v.clone() for k, v in skeleton.state_dict().items()}
    part = copy.deepcopy(skeleton[2])
    x, wrong = torch.randn(4, 1, 5, 5) * 3 + 1, set()
    trained = hybrid_output(skeleton, {"2": part.train()}, torch.float32, x, wrong, train=True)
    assert all(torch.equal(before[k], v) for k, v in skeleton.state_dict().items()) and not skeleton.training
    expected = copy.deepcopy(skeleton).train()
    with torch.no_grad():
        assert torch.allclose(trained, expected(x), atol=1e-6) and wrong == set()
        assert not torch.allclose(trained, skeleton(x), atol=1e-3)  # eval mode would have given another output


def test_a_composite_is_judged_given_its_own_parts():
    """composite.py with local modules: the hybrid is the reference skeleton with the student's parts in it,
    counts and layouts are the reference's with the parts' own, and the note names only the parts that differ."""
    from grader.checks.composite import (carried_forward, count_given_parts, hybrid_output, layout_given_parts,
                                         load_given_parts, note, part_paths, take_notes)
    from grader.checks.measure import state_dict_layout

    class Block(torch.nn.Module):
        def __init__(self, bias=False):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 2, 3, padding=1, bias=bias)

        def forward(self, x):
            return torch.relu(self.conv(x)) + x

    def net(block):
        return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.Sequential(block(), block()))
    ref, mine = net(Block), net(lambda: Block(bias=True))   # the student's block has a bias; the wiring is right
    paths = part_paths(ref, ["Block"])
    assert paths == ["1.0", "1.1"]
    parts = {p: Block(bias=True) for p in paths}
    counts = {p: sum(w.numel() for w in parts[p].parameters()) for p in paths}
    assert count_given_parts(ref, counts) == sum(w.numel() for w in mine.parameters()) != count_given_parts(ref, {})
    given = layout_given_parts(state_dict_layout(ref), {p: state_dict_layout(parts[p]) for p in paths})
    assert given == state_dict_layout(mine) != state_dict_layout(ref)
    load_given_parts(mine, ref.state_dict(), parts, seed=3, dtype=torch.float32)
    x, wrong = torch.randn(1, 1, 4, 4), set()
    out = hybrid_output(ref, parts, torch.float32, x, wrong)
    assert torch.allclose(mine(x), out) and not torch.allclose(ref(x), out) and wrong == {"Block"}
    note(carried_forward("Net", wrong))
    note(carried_forward("Net", wrong))
    assert take_notes() == ("your Net is wired right; its output differs from the reference only because of "
                            "`Block`, charged in the `Block` tests (error carried forward).") and take_notes() == ""
