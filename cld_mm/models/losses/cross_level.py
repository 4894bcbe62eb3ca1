"""Cross-level discrimination loss of CLD.

`Unsupervised Feature Learning by Cross-Level Instance-Group Discrimination
<https://arxiv.org/abs/2008.03813>`_ (Wang, Liu, Yu, CVPR 2021). Each view's
group features are clustered in the batch (:func:`batch_kmeans`); every
instance of one view is then classified against the other view's centroids,
its target being the cluster the other view of the same image fell into::

    L_CLD = 1/2 [CE(f_a C_b^T / T, labels_b) + CE(f_b C_a^T / T, labels_a)]

The authors cluster each GPU's local batch; with 64 images per GPU and K=120
every image is then its own cluster. :func:`global_cross_level_loss`
clusters the global batch instead (the same as :func:`cross_level_loss` in
one process).
"""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank

from ..utils.dist import all_gather_with_grad
from ..utils.kmeans import batch_kmeans


def check_group_feats(group_feats_a: torch.Tensor,
                      group_feats_b: torch.Tensor, num_clusters: int,
                      temperature: float) -> None:
    """Raise ``ValueError`` for mismatched features, K < 1 or T <= 0."""
    for name, f in (('group_feats_a', group_feats_a),
                    ('group_feats_b', group_feats_b)):
        if not isinstance(f, torch.Tensor) or f.dim() != 2:
            shape = tuple(f.shape) if isinstance(f, torch.Tensor) else type(f)
            raise ValueError(f'{name} must be (N, D), got {shape}')
    if group_feats_a.shape != group_feats_b.shape:
        raise ValueError(
            'the two views\' group features must have the same shape (one '
            f'row per image), got {tuple(group_feats_a.shape)} and '
            f'{tuple(group_feats_b.shape)}')
    if int(num_clusters) != num_clusters or num_clusters < 1:
        raise ValueError(f'num_clusters must be an integer >= 1, got '
                         f'{num_clusters}')
    if temperature <= 0:
        raise ValueError(f'Illegal temperature {temperature}: must be > 0')


def cross_level_terms(feats_a: torch.Tensor, feats_b: torch.Tensor,
                      labels_a: torch.Tensor, centroids_a: torch.Tensor,
                      labels_b: torch.Tensor, centroids_b: torch.Tensor,
                      temperature: float
                      ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """L_CLD and its diagnostics, given both views' clusterings.

    Args:
        feats_a (Tensor): (N, D) group features of view a (the rows scored).
        feats_b (Tensor): (N, D) group features of view b.
        labels_a (Tensor): (N,) cluster of each row of view a.
        centroids_a (Tensor): (K, D) centroids of view a.
        labels_b (Tensor): (N,) cluster of each row of view b.
        centroids_b (Tensor): (K, D) centroids of view b.
        temperature (float): T_G.

    Returns:
        tuple[Tensor, dict]: the scalar loss and ``group_acc`` (percent of
        rows of view a whose top-1 centroid of view b is ``labels_b``) and
        ``num_groups`` (mean number of non-empty clusters of the two views).
    """
    # logits: NxK
    logits_ab = feats_a @ centroids_b.t() / temperature
    logits_ba = feats_b @ centroids_a.t() / temperature
    loss = 0.5 * (F.cross_entropy(logits_ab, labels_b) +
                  F.cross_entropy(logits_ba, labels_a))
    with torch.no_grad():
        acc = (logits_ab.argmax(dim=1) == labels_b).float().mean() * 100
        groups = (labels_a.unique().numel() + labels_b.unique().numel()) / 2
    return loss, dict(group_acc=acc,
                      num_groups=torch.tensor(float(groups),
                                              device=feats_a.device))


def cross_level_loss_with_stats(
        group_feats_a: torch.Tensor, group_feats_b: torch.Tensor,
        num_clusters: int, temperature: float, num_iters: int = 5,
        **kmeans_options) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """:func:`cross_level_loss` plus its diagnostics (see
    :func:`cross_level_terms`): ``(loss, dict(group_acc=..., num_groups=...))``.
    """
    check_group_feats(group_feats_a, group_feats_b, num_clusters, temperature)
    labels_a, centroids_a = batch_kmeans(group_feats_a, num_clusters,
                                         num_iters, **kmeans_options)
    labels_b, centroids_b = batch_kmeans(group_feats_b, num_clusters,
                                         num_iters, **kmeans_options)
    return cross_level_terms(group_feats_a, group_feats_b, labels_a,
                             centroids_a, labels_b, centroids_b, temperature)


def cross_level_loss(group_feats_a: torch.Tensor,
                     group_feats_b: torch.Tensor, num_clusters: int,
                     temperature: float, num_iters: int = 5,
                     **kmeans_options) -> torch.Tensor:
    """CLD's cross-level instance-group discrimination loss.

    Each view's (N, D) group features are clustered on their own by
    :func:`cld_mm.models.utils.batch_kmeans` (defaults: the authors' first-K
    init, squared Euclidean, ``num_iters`` iterations, centroids not detached,
    labels without gradient), then
    ``L = 1/2 [CE(f_a C_b^T / T, labels_b) + CE(f_b C_a^T / T, labels_a)]``.

    Args:
        group_feats_a (Tensor): (N, D) group features of view a (CLD:
            L2-normalized).
        group_feats_b (Tensor): (N, D) group features of view b, row i the
            same image as row i of view a.
        num_clusters (int): K >= 1 (K > N: every row its own cluster).
        temperature (float): T_G > 0.
        num_iters (int): k-means iterations. Defaults to 5.
        **kmeans_options: ``spherical``, ``init``, ``generator`` of
            :func:`batch_kmeans`.

    Returns:
        Tensor: scalar L_CLD.

    Examples:
        >>> f = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
        >>> cross_level_loss(f, f, num_clusters=3, temperature=0.2).shape
        torch.Size([])
    """
    return cross_level_loss_with_stats(group_feats_a, group_feats_b,
                                       num_clusters, temperature, num_iters,
                                       **kmeans_options)[0]


def global_cross_level_loss(
        group_feats_a: torch.Tensor, group_feats_b: torch.Tensor,
        num_clusters: int, temperature: float, num_iters: int = 5,
        **kmeans_options) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """L_CLD with k-means on the global batch, the loss on the local rows.

    Both views' group features are gathered from every rank
    (:func:`all_gather_with_grad`), each view's global batch is clustered
    (every rank computes the same clustering), and this rank's loss is
    :func:`cross_level_terms` of its own rows against the global centroids
    and labels. Equal local batches make the mean of the ranks' losses the
    single-process loss of the concatenated batch; the gradient each rank's
    rows receive is ``world_size`` times that loss's gradient, which DDP's
    gradient averaging turns into exactly the single-process gradient.

    Args:
        group_feats_a (Tensor): (N, D) local group features of view a.
        group_feats_b (Tensor): (N, D) local group features of view b.
        num_clusters (int): K >= 1, compared with the global batch size.
        temperature (float): T_G > 0.
        num_iters (int): k-means iterations. Defaults to 5.
        **kmeans_options: ``spherical``, ``init``, ``generator`` of
            :func:`batch_kmeans` (a seeded generator must be seeded alike on
            every rank for identical clusterings).

    Returns:
        tuple[Tensor, dict]: the scalar local loss and the diagnostics of
        :func:`cross_level_terms` (on the local rows), plus ``labels_a`` and
        ``labels_b``: (N,) global cluster indices of the local rows.
    """
    check_group_feats(group_feats_a, group_feats_b, num_clusters, temperature)
    n = group_feats_a.shape[0]
    start = get_rank() * n
    all_a = all_gather_with_grad(group_feats_a)
    all_b = all_gather_with_grad(group_feats_b)
    labels_a, centroids_a = batch_kmeans(all_a, num_clusters, num_iters,
                                         **kmeans_options)
    labels_b, centroids_b = batch_kmeans(all_b, num_clusters, num_iters,
                                         **kmeans_options)
    local = slice(start, start + n)
    loss, stats = cross_level_terms(all_a[local], all_b[local],
                                    labels_a[local], centroids_a,
                                    labels_b[local], centroids_b,
                                    temperature)
    stats.update(labels_a=labels_a[local], labels_b=labels_b[local])
    return loss, stats
