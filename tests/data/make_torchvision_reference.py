"""Regenerate tests/data/torchvision/<model>.json: ground truth from real torchvision.

The kit's AlexNet, VGG, ResNet and DenseNet must have torchvision's state_dict
(keys, shapes, dtypes, in order) and compute the same function. torchvision is NOT
a dependency of the project (its wheels do not import beside the project's pinned
torch), so this script runs once, in a separate virtual environment outside the
repository, and its output files are committed as test data. It is not part of
the project's install, its tests or its Makefile.

How to re-run it (from anywhere; about 1 minute on 2 CPU cores, ~5.5 GB of wheels):

    python3 -m venv /tmp/tvenv
    /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tvenv/bin/python tests/data/make_torchvision_reference.py

Each file holds, for torchvision.models.<model>(weights=None, num_classes=1000):
model, torch_version, torchvision_version, num_params (learnable parameters),
state_dict ([key, shape, dtype] in order; dtypes of the model as built, float32 and
int64), input_shape, and output_eval: the float64 eval-mode output (1000 logits) of
model.double().eval() loaded with tests/torchvision_weights.deterministic_state_dict
and fed tests/torchvision_weights.deterministic_input(input_shape). The project's
tests rebuild the same weights and input from the spec and compare.
"""
import json
import sys
from pathlib import Path

import torch
import torchvision
import torchvision.models as tvm

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from torchvision_weights import deterministic_input, deterministic_state_dict, state_dict_spec  # noqa: E402

MODELS = ["alexnet", "vgg16", "vgg19", "resnet18", "resnet34", "resnet50", "densenet121"]
INPUT_SHAPE = [1, 3, 64, 64]
OUT_DIR = TESTS / "data" / "torchvision"


def reference(name):
    model = getattr(tvm, name)(weights=None, num_classes=1000)
    spec = state_dict_spec(model)
    num_params = sum(p.numel() for p in model.parameters())
    model = model.double().eval()
    model.load_state_dict(deterministic_state_dict(spec), strict=True)
    with torch.no_grad():
        out = model(deterministic_input(INPUT_SHAPE))
    assert out.shape == (1, 1000) and out.dtype == torch.float64, (out.shape, out.dtype)
    return {
        "model": name,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "num_params": num_params,
        "state_dict": [[key, shape, dtype] for key, shape, dtype in spec],
        "input_shape": INPUT_SHAPE,
        "output_eval": [float(f"{v:.15g}") for v in out[0].tolist()],
    }


def to_json(data):
    """Plain JSON, laid out for diffs: one state_dict entry per line, ten outputs per line."""
    d = lambda v: json.dumps(v, separators=(", ", ": "))  # noqa: E731
    head = ",\n".join(f"  {d(k)}: {d(data[k])}"
                        for k in ("model", "torch_version", "torchvision_version", "num_params"))
    entries = ",\n".join(f"    {d(e)}" for e in data["state_dict"])
    outs = data["output_eval"]
    rows = ",\n".join("    " + ", ".join(repr(v) for v in outs[i:i + 10]) for i in range(0, len(outs), 10))
    text = (f"{{\n{head},\n  \"state_dict\": [\n{entries}\n  ],\n"
            f"  \"input_shape\": {d(data['input_shape'])},\n  \"output_eval\": [\n{rows}\n  ]\n}}\n")
    assert json.loads(text) == data
    return text


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        data = reference(name)
        path = OUT_DIR / f"{name}.json"
        path.write_text(to_json(data))
        print(f"{name:12s} {data['num_params']:>12,d} params  {len(data['state_dict']):4d} entries  "
              f"{path.stat().st_size / 1024:6.1f} KB  -> {path}")


if __name__ == "__main__":
    main()
