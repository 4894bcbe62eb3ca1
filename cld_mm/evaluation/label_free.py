"""Label-free criteria of a representation, for hyper-parameter selection.

Each function takes the unit features of two augmented views of the same N
images, ``z1`` and ``z2`` (N, D), row i of both coming from image i:

- :func:`view_retrieval`: how often a feature's nearest neighbour among all
  other 2N - 1 features is the other view of its image (higher is better;
  chance is 1 / (2N - 1)). The CLD paper selects hyper-parameters without
  labels in this spirit.
- :func:`alignment` and :func:`uniformity` (`Wang & Isola, 2020
  <https://arxiv.org/abs/2005.10242>`_): the mean distance between positive
  pairs, and the log of the mean Gaussian potential between all pairs (both
  lower is better).

Examples:
    >>> z1 = F.normalize(torch.randn(64, 128), dim=1)
    >>> z2 = F.normalize(z1 + 0.1 * torch.randn(64, 128), dim=1)
    >>> label_free_scores(z1, z2)['view_retrieval']  # close views: ~1.0
"""
from typing import Dict

import torch

#: criterion name -> True when larger values are better
CRITERIA = {'view_retrieval': True, 'alignment': False, 'uniformity': False,
            'align_uniform': False}


def _check_pair(z1: torch.Tensor, z2: torch.Tensor) -> None:
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f'expected two (N, D) feature tensors of the same '
                         f'shape, got {tuple(z1.shape)} and {tuple(z2.shape)}')
    if z1.shape[0] < 2:
        raise ValueError(f'need at least 2 images, got {z1.shape[0]}')


def view_retrieval(z1: torch.Tensor, z2: torch.Tensor) -> float:
    """Fraction of the 2N features whose nearest neighbour is their pair.

    Args:
        z1 (Tensor): (N, D) unit features of view 1.
        z2 (Tensor): (N, D) unit features of view 2 (same image order).

    Returns:
        float: in [0, 1]; the nearest neighbour is taken by cosine
        similarity among all other 2N - 1 features (both views of every
        image), ties going to the lowest index.
    """
    _check_pair(z1, z2)
    n = z1.shape[0]
    z = torch.cat([z1, z2], dim=0).float()                  # 2N x D
    sim = z @ z.t()                                         # 2N x 2N
    sim.fill_diagonal_(float('-inf'))
    nearest = sim.argmax(dim=1)                             # 2N
    partner = torch.arange(2 * n, device=z.device).roll(n)  # i <-> i + N
    return float((nearest == partner).float().mean())


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> float:
    """Mean ``||z1_i - z2_i||^alpha`` over the N positive pairs (lower better).

    Args:
        z1 (Tensor): (N, D) unit features of view 1.
        z2 (Tensor): (N, D) unit features of view 2.
        alpha (float): exponent. Defaults to 2.
    """
    _check_pair(z1, z2)
    if alpha <= 0:
        raise ValueError(f'alpha must be > 0, got {alpha}')
    return float((z1 - z2).float().norm(dim=1).pow(alpha).mean())


def uniformity(z: torch.Tensor, t: float = 2.0) -> float:
    """``log mean_{i<j} exp(-t ||z_i - z_j||^2)`` over pairs (lower better).

    Args:
        z (Tensor): (N, D) unit features, N >= 2.
        t (float): potential scale. Defaults to 2.
    """
    if z.dim() != 2 or z.shape[0] < 2:
        raise ValueError(f'expected (N, D) features with N >= 2, got '
                         f'{tuple(z.shape)}')
    if t <= 0:
        raise ValueError(f't must be > 0, got {t}')
    sq = torch.pdist(z.float(), p=2).pow(2)                 # N(N-1)/2
    return float(sq.mul(-t).exp().mean().log())


def label_free_scores(z1: torch.Tensor, z2: torch.Tensor) -> Dict[str, float]:
    """All criteria of :data:`CRITERIA` for one pair of views.

    ``uniformity`` is the mean of both views' uniformity; ``align_uniform`` is
    ``alignment + uniformity`` (Wang & Isola's combined objective, weight 1).
    """
    _check_pair(z1, z2)
    align = alignment(z1, z2)
    unif = (uniformity(z1) + uniformity(z2)) / 2
    return dict(view_retrieval=view_retrieval(z1, z2), alignment=align,
                uniformity=unif, align_uniform=align + unif)
