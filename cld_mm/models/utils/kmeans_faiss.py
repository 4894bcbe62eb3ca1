"""SMoG's re-clustering k-means: faiss's exhaustive search on CPU, torch elsewhere.

:func:`spherical_kmeans_recluster` runs the same algorithm as
:func:`cld_mm.models.utils.kmeans.kmeans` with ``spherical=True`` and
``init='random'``: K distinct random rows (drawn from ``generator``) as unit
initial centroids; each of ``num_iters`` Lloyd iterations assigns every row
to its most similar centroid (cosine), sets each centroid to the normalized
sum of its rows and re-seeds every empty cluster with a uniformly drawn row
(from ``generator``). For a CPU tensor with faiss installed, the assignment
step (the whole cost: an (N, K) inner-product search) is faiss's
``IndexFlatIP`` search (blocked BLAS with a fused arg-max); the update stays
in torch, so both paths draw the same random numbers and, up to ties between
equally similar centroids, return the same centroids. Other devices (and CPU
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


def _faiss_assign(x_np, centroids: torch.Tensor) -> torch.Tensor:
    """(N,) index of the highest inner product centroid of every row."""
    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(centroids.contiguous().numpy())
    _, nearest = index.search(x_np, 1)
    return torch.from_numpy(nearest[:, 0]).long()


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
    for _ in range(int(num_iters)):
        labels = _faiss_assign(x_np, centroids)
        # sums: KxD, counts: K
        sums = x.new_zeros(k, x.shape[1]).index_add_(0, labels, x)
        empty = (torch.bincount(labels, minlength=k) == 0).nonzero().flatten()
        centroids = F.normalize(sums, dim=1)
        if empty.numel():
            rows = torch.randint(n, (empty.numel(), ), generator=generator)
            centroids[empty] = x[rows]
    return centroids.to(out_dtype)
