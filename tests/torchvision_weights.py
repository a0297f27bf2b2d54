"""RNG-free weights and inputs for comparing the kit's models with torchvision's.

The kit's AlexNet, VGG, ResNet and DenseNet must compute the same function as
torchvision's (same state_dict, same ops in the same order), so that a student's
model can load torchvision's pretrained weights. torchvision cannot be imported
beside the project's torch, so tests/data/make_torchvision_reference.py (run once,
in a separate environment) stores torchvision's outputs for the weights and input
defined here, and the project's tests rebuild the very same tensors and compare.

Every weight is a closed formula of the entry's index in the state_dict and the
element's position, computed with exact integer arithmetic: no random number
generator, so any torch version on any machine gives bit-identical weights.
(The input is sin(0.1 j), equal across machines to the last bit of sin.) Torch only.
"""
import math

import torch

__all__ = ["deterministic_state_dict", "deterministic_input", "state_dict_spec"]


_P = 2_147_483_647   # the prime 2**31 - 1
_M = 1_540_483_477   # an odd multiplier below 2**31 (MurmurHash2's), so x * _M < 2**62
_CHUNK = 1 << 22
_ROUNDS = 2


def _uniform(n, index):
    """n values in [-1, 1) for state_dict entry number ``index``: an integer hash of (index, position).

    x = j + 1 + 2**32 * index; two rounds of  x = ((x ^ (x >> 16)) mod P) * M mod P;  u = 2 x / P - 1.
    All intermediates are int64 below 2**63, so the numbers are bit-identical on any machine and
    torch version. A hash, not a smooth formula: sin(a j + b) would make every conv filter a mix of
    two fixed patterns (each weight matrix of rank 2) and the 1000 logits a single sinusoid.
    """
    out = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, _CHUNK):          # in chunks: VGG's 102M-element weight without GBs of temporaries
        x = torch.arange(start + 1, min(n, start + _CHUNK) + 1, dtype=torch.int64) + (index << 32)
        for _ in range(_ROUNDS):
            x.bitwise_xor_(x >> 16).remainder_(_P).mul_(_M).remainder_(_P)
        out[start:start + _CHUNK] = x.to(torch.float64) * (2.0 / _P) - 1.0
    return out


def _value(key, shape, index):
    """The float64 values of one state_dict entry (see deterministic_state_dict for the rules)."""
    u = _uniform(math.prod(shape), index).reshape(shape)   # mean 0, mean square 1/3
    name = key.rsplit(".", 1)[-1]
    if name == "running_var":
        return 1.5 + u ** 2                        # strictly positive, 1.5 .. 2.5: each eval-mode BN shrinks a
                                                   # little, so 16 residual additions keep ResNet's logits O(1)
    if name == "running_mean":
        return 0.1 * u
    if len(shape) >= 2:                            # conv / linear weight
        fan_in = math.prod(shape[1:])
        return u * math.sqrt(6.0 / fan_in)         # mean square 2 / fan_in (He scale: activations stay O(1))
    if name == "weight":                           # BatchNorm scale
        return 1.0 + 0.1 * u
    return 0.1 * u                                 # biases, BatchNorm shift


def deterministic_state_dict(shapes, float_dtype=torch.float64):
    """Fill a state_dict from its spec [(key, shape, dtype), ...] (the order matters: an entry's index enters its formula).

    Floating entries get ``float_dtype`` (float64 by default: compare models in double precision);
    integer entries (BatchNorm's num_batches_tracked) keep their dtype and are zero.
    """
    out = {}
    for index, (key, shape, dtype) in enumerate(shapes):
        shape = tuple(int(s) for s in shape)
        torch_dtype = getattr(torch, str(dtype).removeprefix("torch."))
        if torch_dtype.is_floating_point:
            out[key] = _value(key, shape, index).to(float_dtype)
        else:
            out[key] = torch.zeros(shape, dtype=torch_dtype)
    return out


def deterministic_input(shape, dtype=torch.float64):
    """An image-like input, sin(0.1 j) over the flattened positions (values in [-1, 1])."""
    n = math.prod(shape)
    return torch.sin(torch.arange(n, dtype=torch.float64) * 0.1).reshape(tuple(shape)).to(dtype)


def state_dict_spec(model):
    """[(key, shape, dtype), ...] of a model's state_dict, the format the reference files store."""
    return [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()]
