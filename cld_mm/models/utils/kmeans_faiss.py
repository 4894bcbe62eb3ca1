"""SMoG's re-clustering k-means: faiss's exhaustive search on CPU, torch elsewhere.

:func:`spherical_kmeans_recluster` runs the same algorithm as
:func:`cld_mm.models.utils.kmeans.kmeans` with ``spherical=True`` and
``init='random'``: K distinct random rows (drawn from ``generator``) as unit
initial centroids; each of ``num_iters`` Lloyd iterations assigns every row
to its most similar centroid (cosine), sets each centroid to the normalized
sum of its rows and re-seeds every empty cluster with a uniformly drawn row
(from ``generator``). For a CPU tensor with faiss installed, the assignment
step (the whole cost: an (N, K) inner-product search) is faiss's
``IndexFlatIP`` search (blocked BLAS with a fused top-2), and from the second
iteration on only the rows whose nearest centroid may have changed are
searched: a bound from the centroids' moves (as in Hamerly's exact k-means
acceleration) proves the others' assignment unchanged. The assignment is
exact, not approximate; the update stays in torch, so both paths draw the
same random numbers and, up to ties between equally similar centroids,
return the same centroids. Other devices (and CPU
without faiss) use the torch :func:`~cld_mm.models.utils.kmeans.kmeans`.

faiss's own ``faiss.Kmeans`` is not used: its initialisation, its empty
cluster handling (it splits a large cluster) and its sub-sampling differ.
"""
from typing import Optional

import torch
import torch.nn.functional as F

from .kmeans import _check_inputs, _initial_centroids, kmeans

try:  # faiss-cpu is optional: the torch path is the fallback
    import faiss
except ImportError:  # pragma: no cover - depends on the environment
    faiss = None


def faiss_available() -> bool:
    """Whether the faiss search path can be used."""
    return faiss is not None


def _faiss_top2(x_np, centroids: torch.Tensor):
    """(N,) best centroid of every row (ties to the lower index), (N,) its
    similarity and (N,) the second-best similarity (inner products; -inf
    when K = 1)."""
    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(centroids.contiguous().numpy())
    k = min(2, centroids.shape[0])
    sims, nearest = index.search(x_np, k)
    sims, nearest = torch.from_numpy(sims), torch.from_numpy(nearest).long()
    if k == 1:
        return nearest[:, 0], sims[:, 0], torch.full_like(sims[:, 0],
                                                          -float('inf'))
    # a tie (e.g. a re-seeded centroid equal to a one-row cluster's) goes to
    # the lower index, as torch's argmax does
    tie = sims[:, 1] == sims[:, 0]
    labels = torch.where(tie, nearest.min(1).values, nearest[:, 0])
    return labels, sims[:, 0], sims[:, 1]


def _assign(x: torch.Tensor, x_np, centroids: torch.Tensor, state: dict,
            movers: int = 64) -> torch.Tensor:
    """Nearest centroid of every row, searching only the rows whose
    assignment the last centroid moves could have changed.

    ``state`` holds the last assignment (``labels``), an upper bound of every
    row's similarity to any other centroid (``second``) and the centroids it
    was computed for (``centroids``). A centroid that moved by d changes a
    unit row's similarity to it by at most d. The ``movers`` centroids that
    moved most (re-seeded ones among them) are compared with every row
    exactly (an (N, movers) product); for the others the bound
    ``second + max d`` holds. A row keeps its centroid when its similarity
    to it exceeds both by a margin; the other rows are searched by faiss.
    The result is the full search's (exact, not approximate) up to float
    rounding, hence the margin (cf. Hamerly's and Yinyang k-means).
    """
    if not state:
        labels, _, second = _faiss_top2(x_np, centroids)
        state.update(labels=labels, second=second, centroids=centroids)
        return labels
    labels, prev = state['labels'], state['centroids']
    k = centroids.shape[0]
    move = (centroids - prev).norm(dim=1)
    own = (x * centroids[labels]).sum(1)
    m = min(movers, k - 1)
    if m > 0:
        big = move.topk(m).indices
        rest = torch.ones(k, dtype=torch.bool)
        rest[big] = False
        # exact similarities to the big movers: Nxm (own centroid masked)
        sims = x @ centroids[big].t()
        sims[labels[:, None] == big[None, :]] = -float('inf')
        bound = sims.max(1).values
        rest_move = move[rest]
        top, arg = rest_move.topk(min(2, rest_move.numel()))
        rest_idx = rest.nonzero().flatten()
        # the largest move of a non-mover other than the row's own centroid
        other = torch.where(labels == rest_idx[arg[0]], top[-1], top[0])
        bound = torch.maximum(bound, state['second'] + other)
    else:
        bound = state['second'] + move.max()
    stale = (own <= bound + 1e-5).nonzero().flatten()
    labels, second = labels.clone(), bound
    if stale.numel():
        new_labels, _, new_second = _faiss_top2(
            x_np[stale.numpy()], centroids)
        labels[stale] = new_labels
        second[stale] = new_second
    state.update(labels=labels, second=second, centroids=centroids)
    return labels


@torch.no_grad()
def spherical_kmeans_recluster(x: torch.Tensor, num_clusters: int,
                               num_iters: int = 10,
                               generator: Optional[torch.Generator] = None,
                               backend: str = 'auto') -> torch.Tensor:
    """Unit centroids of spherical k-means (SMoG's periodic re-clustering).

    Args:
        x (Tensor): (N, D) features (normalized here), any device.
        num_clusters (int): K, at most N.
        num_iters (int): Lloyd iterations. Defaults to 10.
        generator (torch.Generator, optional): CPU generator of the initial
            rows and the re-seeding. Defaults to None (the global RNG).
        backend (str): ``'auto'`` (faiss for CPU tensors when installed,
            else torch), ``'faiss'`` or ``'torch'``. Defaults to ``'auto'``.

    Returns:
        Tensor: (K, D) unit centroids in ``x``'s dtype and device.
    """
    if backend not in ('auto', 'faiss', 'torch'):
        raise ValueError(f"backend must be 'auto', 'faiss' or 'torch', got "
                         f'{backend!r}')
    on_cpu = isinstance(x, torch.Tensor) and x.device.type == 'cpu'
    if backend == 'faiss' and (faiss is None or not on_cpu):
        raise ValueError('the faiss backend needs faiss installed and a CPU '
                         'tensor' + ('' if on_cpu else
                                     f', got a {x.device.type} tensor'))
    if backend == 'torch' or (backend == 'auto'
                              and (faiss is None or not on_cpu)):
        return kmeans(x, num_clusters, num_iters, spherical=True,
                      init='random', generator=generator)[1]
    _check_inputs(x, num_clusters, num_iters, 'random')
    n, k = x.shape[0], int(num_clusters)
    if k > n:
        raise ValueError(f'k-means needs num_clusters <= N rows, got {k} > {n}')
    out_dtype = x.dtype
    x = F.normalize(x.float(), dim=1).contiguous()
    x_np = x.numpy()
    centroids = _initial_centroids(x, k, 'random', generator, True)
    state = {}
    for _ in range(int(num_iters)):
        labels = _assign(x, x_np, centroids, state)
        # sums: KxD, counts: K
        sums = x.new_zeros(k, x.shape[1]).index_add_(0, labels, x)
        empty = (torch.bincount(labels, minlength=k) == 0).nonzero().flatten()
        centroids = F.normalize(sums, dim=1)
        if empty.numel():
            rows = torch.randint(n, (empty.numel(), ), generator=generator)
            centroids[empty] = x[rows]
    return centroids.to(out_dtype)
