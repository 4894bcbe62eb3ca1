"""K-means in torch: the per-batch k-means of CLD and a large-scale version.

* :func:`batch_kmeans` is the k-means CLD runs on every batch (`Wang et al.,
  2021 <https://arxiv.org/abs/2008.03813>`_): a few Lloyd iterations on the
  group features of one view, with gradients flowing through the centroids.
  Its defaults reproduce the CLD authors' released scripts exactly.
* :func:`kmeans` clusters a large feature bank without gradients (e.g. 100k
  rows into 3,000 groups), as SMoG's periodic re-clustering needs.

Both are pure functions: tensors in, tensors out, on the input's device.
Both compute in float32 at least, with autocast disabled: under mixed
precision (``torch.autocast`` to float16/bfloat16) the distances and the
cluster sums would otherwise be rounded to 8-11 bits, enough to move rows
between nearby clusters. Their outputs are cast back to the input's dtype.
"""
import math
import warnings
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from .precision import as_float32, full_precision

INITS = ('first', 'random', 'kmeans++')

# batch_kmeans warns once per process when K > N (set False to warn again)
_warned_more_clusters_than_rows = False


def _check_inputs(x: torch.Tensor, num_clusters: int, num_iters: int,
                  init: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
        raise ValueError(f'k-means expects (N, D) features, got {shape}')
    if x.shape[0] < 1:
        raise ValueError('k-means got an empty batch (N = 0)')
    if int(num_clusters) != num_clusters or num_clusters < 1:
        raise ValueError(f'num_clusters must be an integer >= 1, got '
                         f'{num_clusters}')
    if int(num_iters) != num_iters or num_iters < 1:
        raise ValueError(f'num_iters must be an integer >= 1, got {num_iters}')
    if init not in INITS:
        raise ValueError(f'init must be one of {INITS}, got {init!r}')


def _kmeanspp_rows(x: torch.Tensor, k: int,
                   generator: Optional[torch.Generator],
                   spherical: bool) -> torch.Tensor:
    """Greedy k-means++ seeding: k row indices.

    The first seed is uniform; each next one is the best of ``2 + log(k)``
    candidates drawn with P ~ D(x)^2 (the candidate that lowers the total
    D^2 most), where D is the squared Euclidean distance to the nearest
    chosen seed (for ``spherical``, 1 - cosine). If every D is 0
    (duplicates), candidates are drawn uniformly.
    """
    n = x.shape[0]
    trials = 2 + int(math.log(k)) if k > 1 else 1
    sq = (x * x).sum(1)

    def dist_to(rows: torch.Tensor) -> torch.Tensor:  # (N, len(rows))
        dots = x @ x[rows].t()
        if spherical:
            return (1 - dots).clamp_min(0)
        return (sq[:, None] - 2 * dots + sq[rows][None, :]).clamp_min(0)

    first = torch.randint(n, (1,), generator=generator)
    chosen = [int(first)]
    dmin = dist_to(first.to(x.device))[:, 0]
    for _ in range(1, k):
        w = dmin.double().cpu()
        if float(w.sum()) <= 0:
            w = torch.ones(n, dtype=torch.double)
        cand = torch.multinomial(w, trials, replacement=True,
                                 generator=generator).to(x.device)
        # potential after adding each candidate: (trials,)
        new_d = torch.minimum(dmin[:, None], dist_to(cand))
        best = int(new_d.sum(0).argmin())
        chosen.append(int(cand[best]))
        dmin = new_d[:, best]
    return torch.tensor(chosen, dtype=torch.long, device=x.device)


def _initial_centroids(x: torch.Tensor, k: int, init: str,
                       generator: Optional[torch.Generator],
                       spherical: bool) -> torch.Tensor:
    """(k, D) initial centroids; with k > N, all rows then k - N zero rows."""
    n = x.shape[0]
    m = min(k, n)
    if init == 'first':
        rows = torch.arange(m, device=x.device)
    elif init == 'random':
        rows = torch.randperm(n, generator=generator)[:m].to(x.device)
    else:
        rows = _kmeanspp_rows(x, m, generator, spherical)
    init_c = x[rows]
    if k > n:
        init_c = torch.cat([init_c, init_c.new_zeros(k - n, x.shape[1])])
    return F.normalize(init_c, dim=1) if spherical else init_c


def assign_nearest(x: torch.Tensor, centroids: torch.Tensor,
                   spherical: bool = False) -> torch.Tensor:
    """Index of the nearest centroid of every row (no gradient).

    Squared Euclidean distance in its matmul form: ``argmin |x - c|^2 =
    argmax (2 x.c - |c|^2)`` (|x|^2 is the same for every centroid). With
    ``spherical`` the centroids are unit vectors and the rule is the cosine
    ``argmax x.c``. Ties go to the lowest centroid index.

    Args:
        x (Tensor): (N, D) features.
        centroids (Tensor): (K, D) centroids.
        spherical (bool): cosine assignment. Defaults to False.

    Returns:
        Tensor: (N,) long labels in [0, K).
    """
    with torch.no_grad(), full_precision(x.device):
        x, centroids = as_float32(x), as_float32(centroids)
        if centroids.dtype != x.dtype:
            centroids = centroids.to(x.dtype)
        # scores: NxK
        scores = x @ centroids.t()
        if not spherical:
            scores = 2 * scores - (centroids * centroids).sum(1)[None, :]
        return scores.argmax(dim=1)


def cluster_means(x: torch.Tensor, labels: torch.Tensor,
                  num_clusters: int) -> torch.Tensor:
    """Mean of the rows of every cluster; an empty cluster gives a zero row.

    Differentiable with respect to ``x`` (the sums are an ``index_add``); an
    empty cluster's count is taken as 1, so its mean is the zero vector, as in
    the CLD authors' scripts.

    Args:
        x (Tensor): (N, D) features.
        labels (Tensor): (N,) long cluster of every row.
        num_clusters (int): K.

    Returns:
        Tensor: (K, D) means.
    """
    # sums: KxD, counts: K
    sums = x.new_zeros(num_clusters, x.shape[1]).index_add(0, labels, x)
    counts = torch.bincount(labels, minlength=num_clusters).clamp_min(1)
    return sums / counts[:, None].to(x.dtype)


def batch_kmeans(x: torch.Tensor, num_clusters: int, num_iters: int = 5,
                 spherical: bool = False, init: str = 'first',
                 generator: Optional[torch.Generator] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """CLD's per-batch k-means, differentiable through the centroids.

    Defaults reproduce the CLD authors' scripts: the initial centroids are the
    first K rows; each of ``num_iters`` iterations assigns every row to the
    nearest centroid by squared Euclidean distance, then sets every centroid
    to the mean of its rows (an empty cluster's count is taken as 1, so its
    centroid is the zero vector). The centroids are the means of the last
    assignment, not re-normalized and not detached; the labels are that last
    assignment and carry no gradient.

    With K > N the initial centroids are the N rows then K - N zero vectors,
    so (for distinct, non-zero rows) every row is its own cluster and K - N
    centroids stay zero, as in the authors' multi-GPU ImageNet runs; a
    warning is logged once per process.

    Args:
        x (Tensor): (N, D) features (CLD: L2-normalized group features).
        num_clusters (int): K >= 1.
        num_iters (int): Lloyd iterations. Defaults to 5.
        spherical (bool): spherical k-means: unit centroids (initial and
            updated) and cosine assignment. Defaults to False.
        init (str): ``'first'`` (the first K rows), ``'random'`` (K distinct
            random rows) or ``'kmeans++'`` (greedy k-means++ seeding).
            Defaults to ``'first'``.
        generator (torch.Generator, optional): CPU generator for the random
            inits. Defaults to None (the global RNG).

    Returns:
        tuple[Tensor, Tensor]: labels (N,) long and centroids (K, D) in
        ``x``'s dtype (computed in float32 with autocast disabled when ``x``
        is float16/bfloat16 or autocast is on).

    Examples:
        >>> x = torch.tensor([[1., 0.], [0.9, 0.1], [0., 1.]])
        >>> labels, c = batch_kmeans(x, 2)
        >>> labels.tolist()
        [0, 0, 1]
    """
    global _warned_more_clusters_than_rows
    _check_inputs(x, num_clusters, num_iters, init)
    num_clusters = int(num_clusters)
    if num_clusters > x.shape[0] and not _warned_more_clusters_than_rows:
        _warned_more_clusters_than_rows = True
        warnings.warn(
            f'batch k-means with more clusters ({num_clusters}) than rows '
            f'({x.shape[0]}): every row becomes its own cluster and '
            f'{num_clusters - x.shape[0]} centroids are zero (the CLD '
            'authors\' per-GPU behaviour; consider global-batch clustering '
            'or a smaller K). Logged once.', stacklevel=2)
    out_dtype = x.dtype
    with full_precision(x.device):
        x = as_float32(x)
        centroids = _initial_centroids(x.detach(), num_clusters, init,
                                       generator, spherical)
        for _ in range(int(num_iters)):
            labels = assign_nearest(x.detach(), centroids.detach(), spherical)
            centroids = cluster_means(x, labels, num_clusters)
            if spherical:
                centroids = F.normalize(centroids, dim=1)
    return labels, centroids.to(out_dtype)


@torch.no_grad()
def kmeans(x: torch.Tensor, num_clusters: int, num_iters: int = 10,
           spherical: bool = True, init: str = 'random',
           generator: Optional[torch.Generator] = None,
           chunk_size: int = 8192) -> Tuple[torch.Tensor, torch.Tensor]:
    """Large-scale k-means without gradients (e.g. 100k x 128 -> 3,000).

    Each iteration assigns the rows chunk by chunk (a (chunk, K) score matrix
    at a time, never (N, K)), then updates the centroids with one
    ``index_add_`` and one ``bincount``. A cluster left empty by an update is
    re-seeded with a uniformly drawn random row (drawn from ``generator``),
    so all K centroids stay usable. After the last update the rows are
    assigned once more, so the returned labels are the nearest returned
    centroid of every row.

    Args:
        x (Tensor): (N, D) features, on any device.
        num_clusters (int): K >= 1, at most N.
        num_iters (int): Lloyd iterations. Defaults to 10.
        spherical (bool): unit centroids and cosine assignment. Defaults to
            True.
        init (str): ``'random'`` (K distinct random rows), ``'first'`` or
            ``'kmeans++'`` (greedy k-means++; sequential, K passes over
            the data).
            Defaults to ``'random'``.
        generator (torch.Generator, optional): CPU generator for the init
            and the re-seeding. Defaults to None (the global RNG).
        chunk_size (int): rows per assignment chunk. Defaults to 8192.

    Returns:
        tuple[Tensor, Tensor]: labels (N,) long and centroids (K, D) (unit
        rows when ``spherical``), in ``x``'s dtype.
    """
    _check_inputs(x, num_clusters, num_iters, init)
    n, num_clusters = x.shape[0], int(num_clusters)
    if num_clusters > n:
        raise ValueError(f'kmeans needs num_clusters <= N rows, got '
                         f'{num_clusters} > {n}')
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    out_dtype = x.dtype
    with full_precision(x.device):
        labels, centroids = _lloyd(as_float32(x), num_clusters, num_iters,
                                   spherical, init, generator, chunk_size)
    return labels, centroids.to(out_dtype)


def _lloyd(x: torch.Tensor, num_clusters: int, num_iters: int,
           spherical: bool, init: str, generator: Optional[torch.Generator],
           chunk_size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The iterations of :func:`kmeans` (float32 or float64 ``x``)."""
    n = x.shape[0]
    if spherical:
        x = F.normalize(x, dim=1)
    centroids = _initial_centroids(x, num_clusters, init, generator,
                                   spherical)

    def assign(c: torch.Tensor) -> torch.Tensor:
        return torch.cat([assign_nearest(x[s:s + chunk_size], c, spherical)
                          for s in range(0, n, chunk_size)])

    for _ in range(int(num_iters)):
        labels = assign(centroids)
        # sums: KxD, counts: K
        sums = x.new_zeros(num_clusters, x.shape[1]).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=num_clusters)
        empty = (counts == 0).nonzero().flatten()
        if spherical:
            centroids = F.normalize(sums, dim=1)
        else:
            centroids = sums / counts.clamp_min(1)[:, None].to(x.dtype)
        if empty.numel():
            rows = torch.randint(n, (empty.numel(),), generator=generator)
            centroids[empty] = x[rows.to(x.device)]
    return assign(centroids), centroids
