"""Grouping quality against class labels: per-group entropy and NMI.

Pure functions of (N,) group assignments and (N,) class labels, used for
SMoG's groups (`Pang et al., 2022 <https://arxiv.org/abs/2207.06167>`_,
Fig. 5) and reusable for any clustering (e.g. CLD's groups). Natural
logarithms throughout.
"""
from typing import Dict, Optional

import torch


def _check(assignments: torch.Tensor, labels: torch.Tensor) -> None:
    if assignments.dim() != 1 or assignments.shape != labels.shape:
        raise ValueError(f'assignments and labels must be (N,) tensors of '
                         f'the same length, got {tuple(assignments.shape)} '
                         f'and {tuple(labels.shape)}')
    if assignments.numel() == 0:
        raise ValueError('no samples to measure')
    if int(assignments.min()) < 0 or int(labels.min()) < 0:
        raise ValueError('assignments and labels must be >= 0')


def contingency(assignments: torch.Tensor, labels: torch.Tensor,
                num_groups: Optional[int] = None, num_classes: Optional[int] = None
                ) -> torch.Tensor:
    """(K, C) counts: entry (k, c) = samples of class c in group k."""
    _check(assignments, labels)
    k = int(assignments.max()) + 1 if num_groups is None else num_groups
    c = int(labels.max()) + 1 if num_classes is None else num_classes
    if int(assignments.max()) >= k or int(labels.max()) >= c:
        raise ValueError(f'assignments must be < {k} and labels < {c}')
    flat = assignments.long() * c + labels.long()
    return torch.bincount(flat, minlength=k * c).reshape(k, c).double()


def _entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """sum -p log p along ``dim`` (0 log 0 = 0)."""
    return -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(dim)


def group_class_entropy(assignments: torch.Tensor, labels: torch.Tensor,
                        num_groups: Optional[int] = None,
                        num_classes: Optional[int] = None) -> torch.Tensor:
    """Each group's class entropy ``sum_i -p_i log p_i``.

    p_i is the fraction of the group's samples with label i.

    Args:
        assignments (Tensor): (N,) long group of every sample.
        labels (Tensor): (N,) long class of every sample.
        num_groups (int, optional): K; defaults to max(assignments) + 1.
        num_classes (int, optional): C; defaults to max(labels) + 1.

    Returns:
        Tensor: (K,) float64 entropies; NaN for empty groups.
    """
    counts = contingency(assignments, labels, num_groups, num_classes)
    sizes = counts.sum(1, keepdim=True)
    ent = _entropy(counts / sizes.clamp_min(1))
    return torch.where(sizes[:, 0] > 0, ent, torch.full_like(ent, float('nan')))


def normalized_mutual_info(assignments: torch.Tensor,
                           labels: torch.Tensor) -> float:
    """NMI = I(A; Y) / mean(H(A), H(Y)) (arithmetic normalisation).

    1 for identical partitions (up to renaming), 0 for independent ones;
    defined as 1 when both partitions have a single part and 0 when only
    one does.
    """
    joint = contingency(assignments, labels)
    joint = joint[joint.sum(1) > 0][:, joint.sum(0) > 0] / joint.sum()
    pa, py = joint.sum(1), joint.sum(0)
    ha, hy = float(_entropy(pa)), float(_entropy(py))
    if ha == 0 and hy == 0:
        return 1.0
    if ha == 0 or hy == 0:
        return 0.0
    outer = pa[:, None] * py[None, :]
    nz = joint > 0
    mi = float((joint[nz] * (joint[nz] / outer[nz]).log()).sum())
    return max(0.0, mi / (0.5 * (ha + hy)))


def group_quality(assignments: torch.Tensor, labels: torch.Tensor,
                  num_groups: Optional[int] = None) -> Dict[str, object]:
    """Entropies of the non-empty groups, their mean, and the NMI.

    Returns:
        dict: ``entropy`` (float64 tensor of the non-empty groups' entropies),
        ``mean_entropy`` (float, unweighted over non-empty groups),
        ``nmi`` (float), ``num_nonempty`` (int).
    """
    ent = group_class_entropy(assignments, labels, num_groups)
    ent = ent[~ent.isnan()]
    return dict(entropy=ent, mean_entropy=float(ent.mean()),
                nmi=normalized_mutual_info(assignments, labels),
                num_nonempty=int(ent.numel()))
