"""Memory-bank maths for non-parametric instance discrimination (NPID).

Pure functions: tensors in, tensors out. The bank itself is a buffer on the
algorithm (:class:`cld_mm.models.algorithms.NPID`), so it is checkpointed.
"""
import math

import torch
import torch.nn.functional as F


def init_memory_bank(bank_size: int, feat_dim: int,
                     generator: torch.Generator = None) -> torch.Tensor:
    """NPID's initial bank: ``uniform(-stdv, stdv)``, stdv = 1/sqrt(d/3).

    Not normalised, as the authors' ``lib/LinearAverage.py``: each entry has
    variance 1/d, so a row's expected squared norm is 1. A row becomes a
    unit vector at its first update (:func:`momentum_bank_rows`). Drawn from
    ``generator`` (default: the global generator), so it differs between
    ranks seeded differently; :class:`cld_mm.models.algorithms.NPID`
    broadcasts rank 0's bank before its first step.

    Returns:
        Tensor: (bank_size, feat_dim).
    """
    stdv = 1.0 / math.sqrt(feat_dim / 3)
    return torch.rand(bank_size, feat_dim, generator=generator) * 2 * stdv - stdv


def check_bank_indices(indices: torch.Tensor, bank_size: int) -> None:
    """Raise ``IndexError`` naming the offending index if any is out of range."""
    if indices.numel() == 0:
        return
    lo, hi = int(indices.min()), int(indices.max())
    if lo < 0 or hi >= bank_size:
        bad = lo if lo < 0 else hi
        raise IndexError(
            f'sample index {bad} is outside the memory bank of {bank_size} '
            'rows: the bank must hold one row per training image (set '
            '`bank_size` to len(train_dataset)).')


def momentum_bank_rows(rows: torch.Tensor, feats: torch.Tensor,
                       momentum: float) -> torch.Tensor:
    """NPID's bank update: ``normalize(m * v_i + (1 - m) * f_i)``.

    Args:
        rows (Tensor): (N, D) current bank rows v_i.
        feats (Tensor): (N, D) new features f_i (detached by the caller).
        momentum (float): m, weight of the old row. 0.5 in NPID.

    Returns:
        Tensor: (N, D) updated unit rows.
    """
    return F.normalize(rows * momentum + feats * (1.0 - momentum), dim=1)
