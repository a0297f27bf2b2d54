"""How close an output must be to the reference's, per device and dtype: the one table every test reads."""
from __future__ import annotations

import torch

# float64 on both sides: no TF32 anywhere, round-off only.
FLOAT64 = {"atol": 1e-7, "rtol": 1e-6}
# float32 on the CPU.
FLOAT32_CPU = {"atol": 1e-5, "rtol": 1e-4}
# float32 on CUDA: convolutions and matmuls may use TF32 (10-bit mantissa) on either side. The mistakes the
# tests look for change an output by 30% or more.
FLOAT32_CUDA = {"atol": 1e-2, "rtol": 1e-2}


def tolerance(device: str, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """``atol``/``rtol`` keyword arguments for ``assert_same_output`` and ``close``."""
    if dtype == torch.float64:
        return dict(FLOAT64)
    return dict(FLOAT32_CPU if torch.device(device).type == "cpu" else FLOAT32_CUDA)
