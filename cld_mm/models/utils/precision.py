"""Full precision inside mixed-precision steps (k-means, kNN scores).

Under ``torch.autocast`` to float16/bfloat16, distances and cluster sums are
rounded to 8-11 bits, enough to move rows between nearby clusters; these
helpers compute such steps in float32 with autocast disabled.
"""
import contextlib

import torch

_HALF = (torch.float16, torch.bfloat16)


def full_precision(device: torch.device):
    """A context with autocast disabled on ``device`` (k-means, kNN)."""
    try:
        return torch.autocast(device.type, enabled=False)
    except RuntimeError:  # a device type autocast does not know
        return contextlib.nullcontext()


def as_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 if it is float16/bfloat16, else unchanged (float64
    stays float64). Differentiable."""
    return x.float() if x.dtype in _HALF else x
