"""Seeded builders: reference modules, inputs and weights made the same way on every run.

They never reseed the trusted process's global random generator: a module whose
initialisation draws from it is built inside ``torch.random.fork_rng``, and inputs come
from their own ``torch.Generator``.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Callable, Iterator

import torch


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Draws from torch's global generator inside this block are seeded; outside it nothing changes."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_seeded(build: Callable[[], torch.nn.Module], seed: int) -> torch.nn.Module:
    with seeded(seed):
        return build()


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32, device: str = "cpu") -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed), dtype=dtype).to(device)


def randomise_batchnorm(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random BN affine parameters and running statistics (local modules), so eval-mode BN is not (almost) the
    identity and a missing or misplaced BatchNorm shows in the output."""
    g = generator(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return module


def reference_case(build: Callable[[], torch.nn.Module], shape: tuple, device: str, seed: int = 0,
                   train: bool = True) -> tuple[torch.nn.Module, torch.Tensor, dict[str, torch.Tensor]]:
    """(reference module in float64 on ``device``, BN randomised, eval mode; a seeded input; its outputs
    {"eval": ..., "train": ...}, the latter only with ``train``)."""
    ref = randomise_batchnorm(build_seeded(build, seed), seed + 1).double().to(device).eval()
    x = randn(*shape, seed=seed + 2, dtype=torch.float64, device=device)
    outs = {}
    with torch.no_grad():
        outs["eval"] = ref(x)
        if train:
            outs["train"] = copy.deepcopy(ref).train()(x)  # a copy: the cached ref keeps its running statistics
    return ref, x, outs
