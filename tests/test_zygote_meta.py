"""Children of the zygote build and run models on the meta device with fast kernels for ``normal_``,
``native_batch_norm``, ``cat``, ``relu`` and ``uniform_`` (grader/sandbox/meta_kernels.py): each answers as
torch's own decomposition does (shapes, strides, dtypes, errors), only faster."""
from __future__ import annotations

import pytest

from grader.wire import Op, request

CASES = '''
import time, torch
from torch import nn

def outcome(make):
    try:
        t = make()
        return ["ok", list(t.shape), str(t.dtype), t.device.type]
    except Exception as err:
        return [type(err).__name__, str(err)]

cases = [
    lambda: torch.empty(4, 5, device="meta").normal_(),
    lambda: torch.empty(4, 5, device="meta").normal_(2.0, 0.5),
    lambda: torch.empty(4, 5, device="meta", dtype=torch.float64).normal_(std=0.0),
    lambda: torch.empty(4, 5, device="meta").normal_(0.0, -1.0),
    lambda: torch.empty(3, device="meta", dtype=torch.long).normal_(),
    lambda: nn.init.kaiming_normal_(torch.empty(64, 3, 7, 7, device="meta")),
    lambda: nn.init.normal_(torch.empty(10, 4, device="meta"), 0, 0.01),
    lambda: nn.init.trunc_normal_(torch.empty(8, 8, device="meta"), std=0.02),
]
result = {"outcomes": [outcome(c) for c in cases]}
with torch.device("meta"):
    convs = [nn.Conv2d(64, 64, 3) for _ in range(5)]
started = time.perf_counter()
with torch.device("meta"):
    for conv in convs:
        for _ in range(20):
            nn.init.kaiming_normal_(conv.weight)
result["ms_per_init"] = (time.perf_counter() - started) * 1000 / 100
'''


@pytest.fixture(scope="module")
def zygote():
    from grader.sandbox.client import Zygote

    z = Zygote()
    yield z
    z.close()


def _in_a_child_and_here(zygote, source: str) -> tuple[dict, dict]:
    """``result`` of ``source`` run in a sandboxed child (the fast kernels) and in this process (torch's own
    decompositions: the kernels are installed in zygotes only)."""
    child = zygote.fork({"hide": [], "cuda": False})
    try:
        child.request(request(Op.RUN_CELL, label="cases", source=source), timeout=60)
        in_child = child.request(request(Op.GET, name="result"), timeout=30)
    finally:
        child.close()
    here: dict = {}
    exec(source, here)
    return in_child, here["result"]


def test_meta_normal_in_a_child_answers_as_torchs_own_and_fast(zygote):
    in_child, here = _in_a_child_and_here(zygote, CASES)
    assert in_child["outcomes"] == here["outcomes"]
    assert [o[0] for o in in_child["outcomes"]] == ["ok"] * 3 + ["RuntimeError"] * 2 + ["ok"] * 3
    # which kernel answered, not a speed target: the decomposition takes about 150 times as long
    assert in_child["ms_per_init"] < here["ms_per_init"] / 3, (in_child["ms_per_init"], here["ms_per_init"])


LAYERS = '''
import time, torch
import torch.nn.functional as F
from torch import nn

def describe(t):
    return [list(t.shape), list(t.stride()), str(t.dtype), t.device.type]

def outcome(make):
    try:
        got = make()
        return ["ok"] + [describe(t) for t in (got if isinstance(got, (tuple, list)) else [got])]
    except Exception as err:
        return [type(err).__name__, str(err)]

def meta(*shape, dtype=torch.float32):
    return torch.empty(*shape, device="meta", dtype=dtype)

def stats(c, dtype=torch.float32):
    return [meta(c, dtype=dtype) for _ in range(4)]  # weight, bias, running_mean, running_var

x = meta(2, 8, 9, 9)
channels_last = x.contiguous(memory_format=torch.channels_last)
bn = torch.native_batch_norm
batch_norm_cases = [
    lambda: bn(x, *stats(8), True, 0.1, 1e-5),                                   # training: the regular case
    lambda: bn(x, *stats(8), False, 0.1, 1e-5),                                  # eval
    lambda: bn(meta(2, 8, 9, 9, dtype=torch.float64), *stats(8, torch.float64), True, 0.1, 1e-5),
    lambda: bn(x, None, None, None, None, True, 0.1, 1e-5),                      # no affine, no running stats
    lambda: bn(meta(2, 8, 1, 1), *stats(8), True, 0.1, 1e-5),
    lambda: bn(meta(4, 8), *stats(8), True, 0.1, 1e-5),                         # BatchNorm1d
    lambda: bn(meta(4, 8, 5), *stats(8), False, 0.1, 1e-5),
    lambda: bn(channels_last, *stats(8), True, 0.1, 1e-5),                       # to the decomposition
    lambda: bn(x.transpose(2, 3), *stats(8), True, 0.1, 1e-5),
    lambda: bn(meta(2, 8, 9, 9, dtype=torch.float16), *stats(8), True, 0.1, 1e-5),
    lambda: bn(x, *stats(8, torch.float64), True, 0.1, 1e-5),
    lambda: bn(x, *stats(4), True, 0.1, 1e-5),                                   # wrong sizes: errors
    lambda: bn(x, meta(8, 1), *stats(8)[1:], True, 0.1, 1e-5),                  # flattened: accepted
    lambda: bn(meta(1, 8, 1, 1), *stats(8), True, 0.1, 1e-5),                    # one value per channel
    lambda: bn(x, None, None, None, None, False, 0.1, 1e-5),                     # eval without statistics
    lambda: bn(meta(8), *stats(8), True, 0.1, 1e-5),
    lambda: bn(meta(2, 8, 9, 9, dtype=torch.int64), *stats(8), True, 0.1, 1e-5),
    lambda: F.batch_norm(x, *stats(8)[2:], *stats(8)[:2], training=True),
    lambda: nn.BatchNorm2d(8, device="meta")(x),
    lambda: nn.BatchNorm2d(8, device="meta").eval()(x),
    lambda: nn.BatchNorm2d(6, device="meta")(x),
    lambda: nn.BatchNorm2d(8, device="meta")(meta(1, 8, 1, 1)),
]
a, b = meta(2, 3, 4, 4), meta(2, 5, 4, 4)
cat_cases = [
    lambda: torch.cat([a, b], 1),                                                 # the regular case
    lambda: torch.cat([a, b, a], -3),
    lambda: torch.cat([a, a], 0),
    lambda: torch.cat([a], 1),
    lambda: torch.cat([meta(1, 1, 4, 4), meta(1, 1, 4, 4)], 1),
    lambda: torch.cat([meta(2, 3, 1, 1), meta(2, 5, 1, 1)], 1),
    lambda: torch.cat([meta(3, 2), meta(3, 4, dtype=torch.float64)], 1),          # to the decomposition
    lambda: torch.cat([a.contiguous(memory_format=torch.channels_last), b], 1),
    lambda: torch.cat([a, b.contiguous(memory_format=torch.channels_last)], 1),
    lambda: torch.cat([a.transpose(2, 3), b], 1),
    lambda: torch.cat([a, meta(0)], 1),
    lambda: torch.cat([a, meta(2, 0, 4, 4)], 1),
    lambda: torch.cat([meta(2, 3, dtype=torch.int64), meta(2, 3, dtype=torch.int64)], 0),
    lambda: torch.cat([a, b], 0),                                                 # errors
    lambda: torch.cat([a, meta(2, 5, 4)], 1),
    lambda: torch.cat([a, b], 4),
    lambda: torch.cat([meta(()), meta(())], 0),
    lambda: torch.cat([a, torch.empty(2, 5, 4, 4)], 1),
    lambda: torch.cat([], 0),
]
relu_cases = [
    lambda: torch.relu(x),                                                        # the regular case
    lambda: F.relu(meta(2, 8, 1, 1, dtype=torch.float64)),
    lambda: nn.ReLU()(meta(4, 8)),
    lambda: torch.relu(meta(())),
    lambda: torch.relu(channels_last),                                            # to the decomposition
    lambda: torch.relu(x.transpose(1, 3)),
    lambda: torch.relu(meta(3, 4, dtype=torch.int64)),
    lambda: torch.relu(meta(3, 4, dtype=torch.float16)),
    lambda: torch.relu(meta(3, 4, dtype=torch.bool)),
]
result = {name: [outcome(case) for case in cases] for name, cases in
          [("batch_norm", batch_norm_cases), ("cat", cat_cases), ("relu", relu_cases)]}

class Dense(nn.Module):  # DenseNet's and ResNet's layers, as students write them: not in place
    def __init__(self):
        super().__init__()
        self.bn, self.conv = nn.BatchNorm2d(16), nn.Conv2d(16, 16, 3, padding=1)
        self.squeeze = nn.Conv2d(32, 16, 1)
    def forward(self, x):
        return self.squeeze(torch.cat([x, F.relu(self.conv(F.relu(self.bn(x))))], 1))

with torch.device("meta"):
    net = nn.Sequential(*[Dense() for _ in range(20)])
x16 = meta(2, 16, 8, 8)
net(x16)
started = time.perf_counter()
for _ in range(5):
    net(x16)
result["ms_per_layer"] = (time.perf_counter() - started) * 1000 / 100
'''


def test_meta_batch_norm_cat_and_relu_in_a_child_answer_as_torchs_own_and_fast(zygote):
    in_child, here = _in_a_child_and_here(zygote, LAYERS)
    ops = ("batch_norm", "cat", "relu")
    for op in ops:  # every outcome: shapes, strides, dtypes, errors
        assert in_child[op] == here[op], op
    errors = {op: [i for i, o in enumerate(here[op]) if o[0] != "ok"] for op in ops}
    assert errors == {"batch_norm": [11, 13, 14, 15, 16, 20, 21], "cat": [13, 14, 15, 16, 17, 18], "relu": []}
    # which kernels answered, not a speed target: the decompositions take several times as long
    assert in_child["ms_per_layer"] < here["ms_per_layer"] / 2, (in_child["ms_per_layer"],
                                                                 here["ms_per_layer"])


UNIFORM = '''
import torch
from torch import nn

def outcome(make):
    try:
        t = make()
        return ["ok", list(t.shape), list(t.stride()), str(t.dtype), t.device.type]
    except Exception as err:
        return [type(err).__name__, str(err)]

def meta(*shape, dtype=torch.float32):
    return torch.empty(*shape, device="meta", dtype=dtype)

cases = [
    lambda: meta(4, 5).uniform_(),                                    # the regular case: answered at once
    lambda: meta(4, 5, dtype=torch.float64).uniform_(-2.0, 3.0),
    lambda: meta(3, dtype=torch.float16).uniform_(generator=torch.Generator()),
    lambda: meta(4, 5).uniform_(1.0, 0.0),                            # from > to: the decomposition allows it
    lambda: meta(0).uniform_(),
    lambda: meta(3, dtype=torch.long).uniform_(),                     # to the decomposition
    lambda: meta(4, 3).t().uniform_(),
    lambda: meta(1).expand(3).uniform_(),
    lambda: meta(2, 3)[:, ::2].uniform_(),
    lambda: nn.init.kaiming_uniform_(meta(64, 3, 7, 7), a=5 ** 0.5),  # nn.Conv2d's and nn.Linear's own init
    lambda: nn.init.uniform_(meta(10, 4), -0.1, 0.1),
]
with torch.device("meta"):
    layer = nn.Linear(9216, 4096)
result = {"outcomes": [outcome(c) for c in cases],
          "layer": [outcome(lambda: layer.weight), outcome(lambda: layer.bias)],
          # which kernel answers on meta: the first "Meta:" line of the dispatcher's table for the op
          "kernel": next(line for line in torch._C._dispatch_dump("aten::uniform_").splitlines()
                         if line.startswith("Meta:"))}
'''


def test_meta_uniform_in_a_child_answers_as_torchs_own(zygote):
    in_child, here = _in_a_child_and_here(zygote, UNIFORM)
    assert in_child["outcomes"] == here["outcomes"] and in_child["layer"] == here["layer"]
    assert all(o[0] == "ok" for o in here["outcomes"])  # the decomposition refuses none of these
    assert "grader/sandbox/meta_kernels.py" in in_child["kernel"], in_child["kernel"]
    assert "meta_kernels.py" not in here["kernel"]
