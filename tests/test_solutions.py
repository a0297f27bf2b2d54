"""The reference solutions, executed from the notebooks themselves, reproduce every number in the contract.

They are the hidden truth the grader compares students against, so they are
checked against the exercise contract's numbers (written into each test below) and against real torchvision
(tests/data/torchvision/, made by tests/data/make_torchvision_reference.py).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torchvision_weights import deterministic_input, deterministic_state_dict

from grader.course import assignment
from grader.reference import load_notebook_module

DATA = Path(__file__).resolve().parent / "data" / "torchvision"


@lru_cache(maxsize=None)
def solution(task: str):
    return load_notebook_module(assignment(task).source_notebook, f"solution_{task}")


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def on_meta(build, *args, **kwargs):
    with torch.device("meta"):
        return build(*args, **kwargs)


# --- alexnet ---------------------------------------------------------------------------------------------

def test_relu_function_gradient_module_and_chain():
    s = solution("alexnet")
    for dtype in (torch.float32, torch.float64, torch.float16, torch.int64):
        x = (torch.randn(3, 4, 5) * 3).to(dtype)
        before = x.clone()
        out = s.relu(x)
        assert out.dtype == dtype and out.shape == x.shape and torch.equal(x, before)
        assert torch.equal(out, torch.relu(x))
    assert s.relu(torch.empty(2, 3, device="meta")).device.type == "meta"
    x = torch.tensor([-2.0, -0.0, 0.0, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    torch.relu(x).sum().backward()
    assert torch.equal(s.relu_grad(x.detach()), x.grad)
    module = s.ReLU()
    assert count(module) == 0 and torch.equal(module(x.detach()), torch.relu(x.detach()))
    for depth in (1, 5, 10):
        assert s.chain_grad("sigmoid", depth, 0.0) <= 0.25 ** depth + 1e-15
        assert s.chain_grad("relu", depth, 1.5) == 1.0 and s.chain_grad("relu", depth, -1.0) == 0.0
        x0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        y = x0
        for _ in range(depth):
            y = torch.tanh(y)
        y.backward()
        assert s.chain_grad("tanh", depth, 0.3) == pytest.approx(x0.grad.item(), rel=1e-12)
    assert s.chain_grad("relu", 3, 0.0) == 0.0
    with pytest.raises(ValueError):
        s.chain_grad("softplus", 2, 0.0)


def test_alexnet_parameters_and_shape():
    model = on_meta(solution("alexnet").AlexNet)
    assert count(model) == 61_100_840
    assert model(torch.empty(2, 3, 224, 224, device="meta")).shape == (2, 1000)


# --- vgg -------------------------------------------------------------------------------------------------

def test_vgg_counts_and_receptive_fields():
    s = solution("vgg")
    assert s.stacked_conv_params(3, 128, 2) == 294_912
    assert s.stacked_conv_params(5, 128, 1) == 409_600
    assert s.conv_params(3, 128, 128) == 147_456 and s.conv_params(3, 128, 128, bias=True) == 147_584
    assert s.receptive_field([3, 3]) == 5 and s.receptive_field([3, 3, 3]) == 7
    assert s.receptive_field([3, 3], [2, 2]) == 7
    torch.manual_seed(0)
    for convs in (1, 2, 3):
        block = torch.nn.Sequential(*[layer for _ in range(convs) for layer in
                                      (torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.ReLU())])
        assert s.empirical_receptive_field(block, 4) == s.receptive_field([3] * convs)
    block = s.vgg_block(3, 8, 2)
    assert block(torch.randn(1, 3, 16, 16)).shape == (1, 8, 8, 8)
    assert count(on_meta(s.vgg16)) == 138_357_544 and count(on_meta(s.vgg19)) == 143_667_240


# --- inception -------------------------------------------------------------------------------------------

def test_inception_numbers():
    s = solution("inception")
    assert s.bottleneck_params(128, 32, 128) == 40_960
    x, weight = torch.randn(2, 8, 5, 7), torch.randn(4, 8)
    expected = F.conv2d(x, weight[:, :, None, None])
    assert torch.allclose(s.pointwise_conv(x, weight), expected, atol=1e-5)
    assert torch.allclose(s.pointwise_conv(x, weight[:, :, None, None]), expected, atol=1e-5)
    block = s.Inception(192, 64, 96, 128, 16, 32, 32)
    assert count(block) == 163_696
    assert block(torch.randn(1, 192, 28, 28)).shape == (1, 256, 28, 28)
    net = on_meta(s.GoogLeNet)
    assert count(net) == 6_998_552
    assert net(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1000)
    assert s.FEWEST_PARAMS == "GoogLeNet" and s.GOOGLENET_MILLIONS == 7.0


# --- resnet ----------------------------------------------------------------------------------------------

def test_resnet_numbers():
    s = solution("resnet")
    assert count(s.BasicBlock(64, 64)) == 73_984 and s.BasicBlock(64, 64).downsample is None
    assert count(s.Bottleneck(256, 64)) == 70_400 and s.Bottleneck.expansion == 4
    down = s.BasicBlock(64, 128, stride=2)
    assert down(torch.randn(1, 64, 16, 16)).shape == (1, 128, 8, 8) and down.downsample is not None
    for build, expected in ((s.resnet18, 11_689_512), (s.resnet34, 21_797_672), (s.resnet50, 25_557_032)):
        assert count(on_meta(build)) == expected


# --- densenet --------------------------------------------------------------------------------------------

def test_densenet_numbers():
    s = solution("densenet")
    assert count(s.DenseLayer(64, 32)) == 45_440
    assert s.DenseLayer(64, 32)(torch.randn(1, 64, 8, 8)).shape == (1, 32, 8, 8)
    block = s.DenseBlock(6, 64, 32)
    assert block(torch.randn(1, 64, 8, 8)).shape == (1, 64 + 6 * 32, 8, 8)
    assert s.dense_channels(64, 6, 32) == 256
    assert count(s.Transition(256, 128)) == 33_280
    assert count(on_meta(s.densenet121)) == 7_978_856


# --- torchvision parity ----------------------------------------------------------------------------------

MODELS = {"alexnet": ("alexnet", "AlexNet"), "vgg16": ("vgg", "vgg16"), "vgg19": ("vgg", "vgg19"),
          "resnet18": ("resnet", "resnet18"), "resnet34": ("resnet", "resnet34"),
          "resnet50": ("resnet", "resnet50"), "densenet121": ("densenet", "densenet121")}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_same_state_dict_and_function_as_torchvision(name):
    """Same keys, shapes and dtypes as torchvision, and the same output for the same (RNG-free) weights."""
    truth = json.loads((DATA / f"{name}.json").read_text())
    task, builder = MODELS[name]
    model = on_meta(getattr(solution(task), builder))
    layout = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in model.state_dict().items()]
    assert layout == truth["state_dict"]
    assert count(model) == truth["num_params"]
    model.load_state_dict(deterministic_state_dict(truth["state_dict"]), assign=True)  # no allocation twice
    model.eval()
    with torch.no_grad():
        out = model(deterministic_input(truth["input_shape"]))
    expected = torch.tensor(truth["output_eval"], dtype=torch.float64)
    assert out.dtype == torch.float64 and out.shape == (1, len(expected))
    assert torch.allclose(out[0], expected, rtol=1e-7, atol=1e-9), (out[0] - expected).abs().max()
