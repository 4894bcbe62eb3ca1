"""Per-sample random parameters of the view transforms, drawn in batches.

Each sampler draws the parameters of ``n`` images at once from a
``torch.Generator`` (on the device that will use them) with the same
distribution as the CPU transform it replaces, which draws them one image at
a time from numpy's global generator. Computations are float64.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Generator, Tensor


def uniform(gen: Generator, n: int, low: float, high: float,
            device: Optional[torch.device] = None) -> Tensor:
    """(n,) float64 draws from U[low, high)."""
    u = torch.rand(n, generator=gen, device=device, dtype=torch.float64)
    return low + (high - low) * u


def bernoulli(gen: Generator, n: int, prob: float,
              device: Optional[torch.device] = None) -> Tensor:
    """(n,) bool, True with probability ``prob`` (``rand < prob``)."""
    return torch.rand(n, generator=gen, device=device,
                      dtype=torch.float64) < prob


def randint_below(gen: Generator, high: Tensor) -> Tensor:
    """(n,) integers uniform in ``[0, high)`` for per-sample ``high >= 1``."""
    u = torch.rand(high.shape, generator=gen, device=high.device,
                   dtype=torch.float64)
    return torch.minimum((u * high).floor(), high - 1).long()


def random_permutations(gen: Generator, n: int, k: int,
                        device: Optional[torch.device] = None) -> Tensor:
    """(n, k) rows, each a uniformly random permutation of ``range(k)``."""
    keys = torch.rand(n, k, generator=gen, device=device, dtype=torch.float64)
    return keys.argsort(dim=1)


def resized_crop_params(gen: Generator, n: int, height: int, width: int,
                        scale: Sequence[float] = (0.08, 1.0),
                        ratio: Sequence[float] = (3. / 4., 4. / 3.),
                        max_attempts: int = 10,
                        device: Optional[torch.device] = None
                        ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Crop boxes of ``RandomResizedCrop`` for ``n`` images of one size.

    torchvision's ``RandomResizedCrop.get_params`` and mmpretrain's
    ``RandomResizedCrop.rand_crop_params`` (the same rule): up to
    ``max_attempts`` tries of area ``U(scale) * H * W`` and aspect ratio
    ``exp(U(log ratio))``, ``w = round(sqrt(area * ratio))``,
    ``h = round(sqrt(area / ratio))`` (round half to even, as Python's
    ``round``); the first try with ``0 < w <= W`` and ``0 < h <= H`` wins, with
    a uniform integer offset; if none does, the centre crop of the image
    clipped to the ratio range. All tries are drawn for every image (the
    distribution of the first valid one is unchanged).

    Returns:
        tuple[Tensor]: (top, left, h, w), each (n,) int64.
    """
    if scale[0] > scale[1] or ratio[0] > ratio[1]:
        raise ValueError(f'ranges must be (min, max), got scale={scale}, '
                         f'ratio={ratio}')
    area = float(height * width)
    if max_attempts < 0:
        raise ValueError(f'max_attempts must be >= 0, got {max_attempts}')
    shape = (n, max(max_attempts, 1))
    target = area * (scale[0] + (scale[1] - scale[0]) * torch.rand(
        shape, generator=gen, device=device, dtype=torch.float64))
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(
        shape, generator=gen, device=device, dtype=torch.float64))
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)       # n x tries
    if max_attempts == 0:  # straight to the fallback
        ok = torch.zeros_like(ok)

    # centre-crop fallback
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        fw, fh = int(round(height * max(ratio))), height
    else:
        fw, fh = width, height

    any_ok = ok.any(1)
    first = ok.to(torch.int8).argmax(1)                         # n
    pick = first[:, None]
    w_sel = torch.where(any_ok, w.gather(1, pick)[:, 0],
                        torch.full_like(any_ok, fw, dtype=torch.float64))
    h_sel = torch.where(any_ok, h.gather(1, pick)[:, 0],
                        torch.full_like(any_ok, fh, dtype=torch.float64))
    w_sel, h_sel = w_sel.long(), h_sel.long()
    top = randint_below(gen, height - h_sel + 1)
    left = randint_below(gen, width - w_sel + 1)
    top = torch.where(any_ok, top, (height - h_sel) // 2)
    left = torch.where(any_ok, left, (width - w_sel) // 2)
    return top, left, h_sel, w_sel


def erasing_params(gen: Generator, n: int, height: int, width: int,
                   area_ratio: Sequence[float], aspect: Sequence[float],
                   device: Optional[torch.device] = None
                   ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Boxes of mmpretrain's ``RandomErasing`` for ``n`` images of one size.

    mmpretrain's rule (the CPU recipes' transform), which differs from
    torchvision's ``RandomErasing`` (10 tries, box strictly inside, else no
    erasing): aspect ``exp(U(log aspect))`` (h / w), area
    ``U(area_ratio) * H * W``, ``h = min(round(sqrt(area * aspect)), H)``,
    ``w = min(round(sqrt(area / aspect)), W)``; top uniform in
    ``[0, H - h)`` (numpy's exclusive ``randint``; 0 when ``h == H``), left
    likewise, so the box never touches the bottom or right edge unless it
    spans the image.

    Returns:
        tuple[Tensor]: (top, left, h, w), each (n,) int64.
    """
    log_lo, log_hi = math.log(aspect[0]), math.log(aspect[1])
    asp = torch.exp(uniform(gen, n, log_lo, log_hi, device))
    area = height * width * uniform(gen, n, area_ratio[0], area_ratio[1],
                                    device)
    h = torch.round(torch.sqrt(area * asp)).clamp(max=height).long()
    w = torch.round(torch.sqrt(area / asp)).clamp(max=width).long()
    top = randint_below(gen, (height - h).clamp(min=1))
    left = randint_below(gen, (width - w).clamp(min=1))
    return top, left, h, w
