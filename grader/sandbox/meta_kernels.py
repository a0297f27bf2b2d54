"""Fast meta-device kernels for the zygote's children, where torch runs a Python decomposition instead.

Hidden tests build and run students' networks on the ``meta`` device wherever only structure matters (counts,
layouts, output shapes). Torch has no native meta kernel for a few ops these networks use all the time and
runs their Python reference decompositions instead, each call far dearer than the convolutions around it:

- ``normal_``: 0.5 ms a call; ``kaiming_normal_`` initialises every convolution of a DenseNet with it;
- ``native_batch_norm``: 1.6 ms; a ResNet-18 forward pass on meta spent 90% of its 44 ms in its 20;
- ``cat``: 0.5 ms; a DenseNet-121 forward pass on meta spent 29 of its 39 ms in its 62 concatenations;
- ``relu`` (not in place): 0.3 ms;
- ``uniform_``: 0.15 ms; ``kaiming_uniform_``, every ``nn.Conv2d``'s and ``nn.Linear``'s default initialisation,
  calls it twice per layer (a GoogLeNet built on meta: about 120 calls).

The kernels here answer at once, with the tensors the decomposition would return (shapes, strides, dtypes),
and keep its errors: ``normal_`` repeats its argument checks; the others answer only the regular case (default
contiguous inputs of one float dtype, sizes that agree) and hand everything else to the decomposition
itself. ``tests/test_zygote_meta.py`` compares every outcome with torch's own, errors included.

Registered once in the zygote (``install``), before any child is forked: students' code cannot tell
except by timing.
"""
from __future__ import annotations

import warnings

import torch
from torch._decomp import global_decomposition_table
from torch._prims_common import suggest_memory_format

_REGISTRATIONS: list = []  # the torch.library registrations, kept alive for the zygote's lifetime


def _decomposition(op: torch._ops.OpOverload):
    """The Python kernel torch registers for ``op`` on meta (picked as ``torch._meta_registrations`` does)."""
    for table in ("meta", "post_autograd", "pre_autograd"):
        if op in global_decomposition_table[table]:
            return global_decomposition_table[table][op]
    raise LookupError(f"torch has no decomposition for {op}")


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """``Tensor.normal_`` on meta: the decomposition's checks, then the tensor as it is (it holds no data)."""
    torch._check(self.dtype.is_floating_point or self.dtype.is_complex,
                 lambda: f"expected a floating-point or complex dtype, but got dtype={self.dtype}")
    torch._check(std >= 0.0, lambda: f"normal expects std >= 0.0, but found std {std}")
    return self


def make_uniform_(decomposition):
    """``Tensor.uniform_`` on meta: the tensor as it is for a contiguous floating-point tensor (there the
    decomposition checks nothing else, not even ``from <= to``, and returns the tensor); ``decomposition`` itself
    everywhere else."""
    def uniform_(self, low=0.0, high=1.0, *, generator=None):
        if self.dtype.is_floating_point and self.is_contiguous():
            return self
        return decomposition(self, low, high, generator=generator)
    return uniform_


FLOATS = (torch.float32, torch.float64)


def _suggests_channels_last(t) -> bool:
    """Whether torch's references would lay a result out channels-last after ``t`` (a 4-D tensor whose
    strides are ambiguous, e.g. one channel): such cases go to the decomposition."""
    return suggest_memory_format(t) != torch.contiguous_format


def _contiguous_strides(shape) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def make_batch_norm(decomposition):
    """``native_batch_norm`` on meta: (output, save_mean, save_invstd) at once where the decomposition surely
    succeeds and returns fresh contiguous tensors; ``decomposition`` itself everywhere else."""
    def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
        channels = input.shape[1] if input.dim() >= 2 else 0
        regular = (
            channels > 0 and input.dtype in FLOATS
            and input.stride() == _contiguous_strides(input.shape)
            and input.numel() > channels  # more than one value per channel: the unbiased variance is defined
            and (training or (running_mean is not None and running_var is not None))
            and all(t is None or (t.device.type == "meta" and t.dtype == input.dtype
                                  and tuple(t.shape) == (channels,) and t.stride() == (1,))
                    for t in (weight, bias, running_mean, running_var)))
        if not regular:
            return decomposition(input, weight, bias, running_mean, running_var, training, momentum, eps)
        # the decomposition's running-statistics update (running_mean.copy_(...)) writes no data on meta
        return (torch.empty(input.shape, dtype=input.dtype, device="meta"),
                torch.empty(channels, dtype=input.dtype, device="meta"),
                torch.empty(channels, dtype=input.dtype, device="meta"))
    return native_batch_norm


def make_cat(decomposition):
    """``cat`` on meta: one fresh contiguous tensor at once where every input is a non-empty contiguous tensor
    of one float dtype, whose sizes agree but along ``dim``; ``decomposition`` itself everywhere else."""
    def cat(tensors, dim=0):
        first = tensors[0] if len(tensors) else None
        regular = (first is not None and first.dim() >= 1 and -first.dim() <= dim < first.dim()
                   and first.dtype in FLOATS and not _suggests_channels_last(first))
        if regular:
            dim %= first.dim()
            before, after, total = first.shape[:dim], first.shape[dim + 1:], 0
            for t in tensors:
                if not (t.dtype == first.dtype and t.device.type == "meta" and t.is_contiguous() and t.numel()
                        and t.shape[:dim] == before and t.shape[dim + 1:] == after):
                    return decomposition(tensors, dim)
                total += t.shape[dim]
            # the decomposition lays its result out as its first input suggests: default contiguous here
            return torch.empty((*before, total, *after), dtype=first.dtype, device="meta")
        return decomposition(tensors, dim)
    return cat


def make_relu(decomposition):
    """``relu`` (not in place) on meta: a fresh tensor like its default contiguous float input at once;
    ``decomposition`` itself everywhere else."""
    def relu(input):
        if input.dtype in FLOATS and input.stride() == _contiguous_strides(input.shape):
            return torch.empty(input.shape, dtype=input.dtype, device="meta")
        return decomposition(input)
    return relu


def install() -> None:
    """Register the fast kernels for this process and the children it forks."""
    library = torch.library.Library("aten", "IMPL")  # noqa: TOR901 -- existing ops, another dispatch key
    aten = torch.ops.aten
    batch_norm = make_batch_norm(_decomposition(aten.native_batch_norm.default))
    cat, relu = make_cat(_decomposition(aten.cat.default)), make_relu(_decomposition(aten.relu.default))
    uniform_ = make_uniform_(_decomposition(aten.uniform_.default))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel": the point of it
        library.impl("normal_", normal_, "Meta")
        library.impl("native_batch_norm", batch_norm, "Meta")
        library.impl("cat", cat, "Meta")
        library.impl("relu", relu, "Meta")
        library.impl("uniform_", uniform_, "Meta")
    _REGISTRATIONS.append(library)
