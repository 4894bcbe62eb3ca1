"""Batch k-means: cld_mm's ``batch_kmeans`` vs the authors' broadcast form.

    python benchmarks/bench_kmeans.py [--n 256] [--dim 128] [--k 128]
        [--iters 5] [--reps 20] [--device cpu] [--json OUT.json]

Both run CLD's per-batch k-means (first K rows as initial centroids,
squared-Euclidean assignment, an empty cluster's count taken as 1, centroids
the means of the last assignment) on the same unit features, forward and
backward through the centroids as in training. The script checks that labels
and centroids agree, then prints the median time of each and the ratio.
"""
import argparse
import sys
from typing import Tuple

import torch
import torch.nn.functional as F

from common import (
    add_common_arguments,
    apply_threads,
    device_name,
    time_call,
    write_json,
)


def broadcast_kmeans(x: torch.Tensor, num_clusters: int,
                     num_iters: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The authors' formulation, transcribed: (N, K, D) broadcast distances.

    Squared distances ``((x[:, None] - c[None]) ** 2).sum(-1)``, counts from
    ``unique(return_counts=True)`` (absent clusters count 1), centroids the
    per-cluster sums (a one-hot matmul) divided by the counts.
    """
    n = x.shape[0]
    centroids = x[:num_clusters]
    if num_clusters > n:
        centroids = torch.cat([centroids, x.new_zeros(num_clusters - n,
                                                      x.shape[1])])
    for _ in range(num_iters):
        # dist: N x K x D -> N x K
        dist = ((x[:, None, :] - centroids[None, :, :].detach()) ** 2).sum(-1)
        labels = dist.argmin(dim=1)
        present, counts = labels.unique(return_counts=True)
        count_all = torch.ones(num_clusters, device=x.device, dtype=x.dtype)
        count_all[present] = counts.to(x.dtype)
        onehot = F.one_hot(labels, num_clusters).to(x.dtype)  # N x K
        centroids = onehot.t() @ x / count_all[:, None]        # K x D
    return labels, centroids


def run(n: int = 256, dim: int = 128, k: int = 128, iters: int = 5,
        warmup: int = 3, reps: int = 20, device: str = 'cpu',
        seed: int = 0) -> dict:
    """Check agreement and time both implementations; returns the figures."""
    from cld_mm.models.utils.kmeans import batch_kmeans
    gen = torch.Generator().manual_seed(seed)
    x = F.normalize(torch.randn(n, dim, generator=gen), dim=1).to(device)

    labels_a, cent_a = batch_kmeans(x, k, iters)
    labels_b, cent_b = broadcast_kmeans(x, k, iters)
    agree_labels = float((labels_a == labels_b).float().mean())
    max_diff = float((cent_a - cent_b).abs().max())

    def step(fn):
        xg = x.clone().requires_grad_(True)

        def call():
            _, cent = fn(xg, k, iters)
            cent.sum().backward()
        return call

    t_pkg = time_call(step(batch_kmeans), warmup, reps, device)
    t_ref = time_call(step(broadcast_kmeans), warmup, reps, device)
    return dict(device=device_name(device), n=n, dim=dim, k=k, iters=iters,
                reps=reps, label_agreement=agree_labels,
                centroid_max_abs_diff=max_diff,
                batch_kmeans_ms=t_pkg['median'] * 1e3,
                broadcast_ms=t_ref['median'] * 1e3,
                speedup=t_ref['median'] / t_pkg['median'])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=256, help='batch size N')
    p.add_argument('--dim', type=int, default=128, help='feature dim D')
    p.add_argument('--k', type=int, default=128, help='clusters K')
    p.add_argument('--iters', type=int, default=5)
    add_common_arguments(p)
    p.set_defaults(warmup=3, reps=20)
    args = p.parse_args(argv)
    apply_threads(args.threads)
    res = run(args.n, args.dim, args.k, args.iters, args.warmup, args.reps,
              args.device)
    print(f"device: {res['device']}")
    print(f"batch k-means {args.n}x{args.dim}, K={args.k}, {args.iters} "
          f"iterations, forward+backward, median of {args.reps}")
    print(f"  labels agree: {100 * res['label_agreement']:.1f}%   "
          f"centroids max |diff|: {res['centroid_max_abs_diff']:.2e}")
    print(f"  cld_mm batch_kmeans : {res['batch_kmeans_ms']:8.2f} ms")
    print(f"  authors' broadcast  : {res['broadcast_ms']:8.2f} ms")
    print(f"  speed-up            : {res['speedup']:8.1f}x")
    if args.json:
        write_json(args.json, res)
    return res


if __name__ == '__main__':
    sys.exit(main() and 0)
