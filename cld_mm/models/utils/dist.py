"""Distributed helpers for CLD: all-gather with gradients, global clustering.

The CLD authors cluster each GPU's local batch; with 64 images per GPU and
K=120 every image is then its own cluster. :func:`global_cross_level_loss`
clusters the global batch instead: the group features of every rank are
gathered, both views are clustered as one batch, and each rank computes the
loss of its own rows. Every function here is a plain pass-through in a
non-distributed process.
"""
from typing import Dict, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.dist import get_rank, get_world_size

from ..losses.cross_level import check_group_feats, cross_level_terms
from .kmeans import batch_kmeans


class _AllGatherGrad(torch.autograd.Function):
    """Concatenate every rank's rows; backward sums the ranks' gradients.

    The backward all-reduces (sums) the gradient of the gathered tensor over
    the ranks and returns this rank's rows, so the local rows receive the
    gradient of every rank's loss (through the global centroids too).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.rows = get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(get_world_size())]
        torch_dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        torch_dist.all_reduce(grad)
        start = ctx.rank * ctx.rows
        return grad[start:start + ctx.rows]


def _check_equal_rows(x: torch.Tensor) -> None:
    """Raise if the ranks hold different numbers of rows."""
    n = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.empty_like(n) for _ in range(get_world_size())]
    torch_dist.all_gather(sizes, n)
    sizes = [int(s) for s in sizes]
    if len(set(sizes)) != 1:
        raise ValueError(
            f'global-batch clustering needs the same batch size on every '
            f'rank, got {sizes} (use drop_last=True in the train dataloader)')


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) local rows -> (world_size * N, ...) rows of all ranks.

    Rank r's rows sit at ``[r * N, (r + 1) * N)``. The gathered tensor is
    differentiable: this rank's rows get the sum over the ranks of the
    gradients their losses send to them (the other ranks' rows are their own
    ranks' leaves). Every rank must hold the same N. Identity in one process.

    Args:
        x (Tensor): (N, ...) local rows.

    Returns:
        Tensor: (world_size * N, ...) rows.
    """
    if get_world_size() == 1:
        return x
    _check_equal_rows(x)
    return _AllGatherGrad.apply(x)


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
