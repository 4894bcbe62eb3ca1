"""SMoG's synchronous momentum grouping: pure functions of tensors.

`Pang et al., 2022 <https://arxiv.org/abs/2207.06167>`_. Every iteration each
group feature g_k moves towards the mean of the batch features assigned to
it::

    g_k <- normalize(beta * g_k + (1 - beta) * mean_{c_t = k} f_t)

Groups with no member in the batch are left unchanged. The update is split in
two so that a distributed caller can all-reduce the per-group sums and counts
in between (:func:`group_sums` on each rank, an all-reduce, then
:func:`momentum_group_update_from_sums`); :func:`momentum_group_update` is
the one-process composition. The group table itself is a buffer on the
algorithm (:class:`cld_mm.models.algorithms.SMoG`).
"""
from typing import Tuple

import torch
import torch.nn.functional as F


def _check_groups_feats(groups: torch.Tensor, feats: torch.Tensor,
                        labels: torch.Tensor) -> None:
    if groups.dim() != 2 or feats.dim() != 2:
        raise ValueError(f'groups and feats must be 2-D, got '
                         f'{tuple(groups.shape)} and {tuple(feats.shape)}')
    if groups.shape[1] != feats.shape[1]:
        raise ValueError(f'feature dims differ: groups {groups.shape[1]}, '
                         f'feats {feats.shape[1]}')
    if labels.shape != (feats.shape[0], ):
        raise ValueError(f'labels must have shape ({feats.shape[0]},), got '
                         f'{tuple(labels.shape)}')
    if labels.numel() and (int(labels.min()) < 0
                           or int(labels.max()) >= groups.shape[0]):
        raise ValueError(f'labels must lie in [0, {groups.shape[0]}), got '
                         f'[{int(labels.min())}, {int(labels.max())}]')


def check_beta(beta: float) -> None:
    """Raise ``ValueError`` unless 0 <= beta <= 1."""
    if not 0.0 <= float(beta) <= 1.0:
        raise ValueError(f'group momentum beta must be in [0, 1], got {beta}')


def assign_groups(feats: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """The group of highest cosine similarity of every feature (no gradient).

    Args:
        feats (Tensor): (N, D) features (need not be unit-norm).
        groups (Tensor): (K, D) unit group features.

    Returns:
        Tensor: (N,) long group indices; ties go to the lowest index.
    """
    with torch.no_grad():
        # sim: NxK (the feature norm does not change the argmax)
        return (feats @ groups.t()).argmax(dim=1)


def group_sums(feats: torch.Tensor, labels: torch.Tensor,
               num_groups: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-group sum of the features and member count.

    Differentiable with respect to ``feats``.

    Args:
        feats (Tensor): (N, D) features f_t.
        labels (Tensor): (N,) long group c_t of every feature.
        num_groups (int): K.

    Returns:
        tuple[Tensor, Tensor]: sums (K, D) and counts (K,) in ``feats``'s
        dtype.
    """
    # sums: KxD, counts: K
    sums = feats.new_zeros(num_groups, feats.shape[1]).index_add(
        0, labels, feats)
    counts = torch.bincount(labels, minlength=num_groups).to(feats.dtype)
    return sums, counts


def momentum_group_update_from_sums(groups: torch.Tensor, sums: torch.Tensor,
                                    counts: torch.Tensor,
                                    beta: float) -> torch.Tensor:
    """``normalize(beta * g_k + (1 - beta) * sums_k / counts_k)`` per group.

    Args:
        groups (Tensor): (K, D) unit group features g_k.
        sums (Tensor): (K, D) per-group feature sums (all ranks).
        counts (Tensor): (K,) per-group member counts (all ranks).
        beta (float): weight of the old group feature, in [0, 1].

    Returns:
        Tensor: (K, D) updated unit group features; rows with count 0 are
        ``groups``'s rows unchanged. Differentiable in ``groups`` and
        ``sums``.
    """
    check_beta(beta)
    if sums.shape != groups.shape or counts.shape != groups.shape[:1]:
        raise ValueError(f'sums {tuple(sums.shape)} / counts '
                         f'{tuple(counts.shape)} do not match groups '
                         f'{tuple(groups.shape)}')
    member = (counts > 0)[:, None]
    # means: KxD (empty groups: a zero row, never used)
    means = sums / counts.clamp_min(1)[:, None]
    moved = F.normalize(beta * groups + (1.0 - beta) * means, dim=1)
    return torch.where(member, moved, groups)


def momentum_group_update(groups: torch.Tensor, feats: torch.Tensor,
                          labels: torch.Tensor, beta: float) -> torch.Tensor:
    """SMoG's momentum grouping step in one process.

    Args:
        groups (Tensor): (K, D) unit group features g_k.
        feats (Tensor): (N, D) batch features f_t (SMoG: unit online
            projections).
        labels (Tensor): (N,) long assigned group c_t of every feature.
        beta (float): weight of the old group feature, in [0, 1]; beta = 1
            leaves the groups unchanged.

    Returns:
        Tensor: (K, D) updated, re-normalized group features (groups with no
        member unchanged). Gradients flow into ``groups`` and ``feats``.

    Examples:
        >>> g = torch.tensor([[1., 0.], [0., 1.]])
        >>> f = torch.tensor([[0., 1.]])
        >>> momentum_group_update(g, f, torch.tensor([0]), 0.5)
        tensor([[0.7071, 0.7071],
                [0.0000, 1.0000]])
    """
    _check_groups_feats(groups, feats, labels)
    sums, counts = group_sums(feats, labels, groups.shape[0])
    return momentum_group_update_from_sums(groups, sums, counts, beta)


def linear_beta(step: int, total_steps: int, start: float = 1.0,
                end: float = 0.99) -> float:
    """SMoG's beta schedule: linear from ``start`` to ``end`` over training.

    The values are betas, not factors of a base beta: the SMoG slides'
    Table 7a (ResNet-50, 100 epochs) reads "fixed 0.99" 65.9,
    "1.0 -> 0.9" 67.0, "1.0 -> 0.99" 67.2 (best) and "1.0 -> 0.999" 67.1.
    Iteration 0 uses ``start``, the last iteration (``total_steps - 1``)
    uses ``end``; later steps keep ``end``.

    Args:
        step (int): iterations done before this one, >= 0.
        total_steps (int): iterations of the schedule, >= 1 (with 1, the
            only iteration uses ``start``).
        start (float): beta of the first iteration. Defaults to 1.0.
        end (float): beta of the last iteration. Defaults to 0.99.

    Returns:
        float: the beta of this iteration.

    Examples:
        >>> linear_beta(0, 101), linear_beta(50, 101), linear_beta(100, 101)
        (1.0, 0.995, 0.99)
    """
    if total_steps < 1:
        raise ValueError(f'total_steps must be >= 1, got {total_steps}')
    if step < 0:
        raise ValueError(f'step must be >= 0, got {step}')
    check_beta(start)
    check_beta(end)
    if total_steps == 1:
        return float(start)
    frac = min(step, total_steps - 1) / (total_steps - 1)
    return float(start + (end - start) * frac)
