"""SMoG's re-clustering: cld_mm's ``kmeans`` vs faiss-cpu k-means.

    python benchmarks/bench_recluster.py [--n 100000] [--dim 128] [--k 3000]
        [--iters 10] [--threads 2] [--warmup 1] [--reps 3] [--device cpu]
        [--json OUT.json]

Both cluster the same unit features (``n`` rows drawn around ``k`` random
directions, so the clustering has structure to find) into ``k`` groups with
spherical k-means, the same number of Lloyd iterations and a random-rows
initialisation. Prints the median seconds of each, the ratio
(ours / faiss), and a quality figure for each: the mean cosine between a row
and its nearest returned centroid (higher is better).
"""
import argparse
import sys

import torch
import torch.nn.functional as F

from common import (
    add_common_arguments,
    apply_threads,
    device_name,
    time_call,
    write_json,
)


def synthetic_features(n: int, dim: int, k: int, seed: int = 0,
                       noise: float = 0.6) -> torch.Tensor:
    """(n, dim) unit rows: random unit centres + Gaussian noise."""
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(k, dim, generator=gen), dim=1)
    idx = torch.randint(k, (n, ), generator=gen)
    x = centres[idx] + noise / dim ** 0.5 * torch.randn(n, dim, generator=gen)
    return F.normalize(x, dim=1)


def mean_cosine(x: torch.Tensor, centroids: torch.Tensor,
                chunk: int = 8192) -> float:
    """Mean over rows of the cosine to the nearest (unit) centroid."""
    c = F.normalize(centroids, dim=1)
    best = [(x[s:s + chunk] @ c.t()).max(1).values
            for s in range(0, x.shape[0], chunk)]
    return float(torch.cat(best).mean())


def run(n=100000, dim=128, k=3000, iters=10, warmup=1, reps=3,
        device='cpu', threads=None, seed=0) -> dict:
    import faiss

    from cld_mm.models.utils.kmeans import kmeans
    x = synthetic_features(n, dim, k, seed).to(device)
    x_np = x.cpu().numpy()
    if threads is not None:
        faiss.omp_set_num_threads(threads)

    out = {}

    def ours():
        gen = torch.Generator().manual_seed(seed)
        out['ours'] = kmeans(x, k, num_iters=iters, spherical=True,
                             init='random', generator=gen)[1]

    def theirs():
        km = faiss.Kmeans(dim, k, niter=iters, spherical=True, seed=seed,
                          verbose=False, max_points_per_centroid=n)
        km.train(x_np)
        out['faiss'] = torch.from_numpy(km.centroids).to(device)

    t_ours = time_call(ours, warmup, reps, device)
    t_faiss = time_call(theirs, warmup, reps, 'cpu')
    return dict(
        n=n, dim=dim, k=k, iters=iters, device=device_name(device),
        faiss_threads=faiss.omp_get_max_threads(),
        ours_s=t_ours, faiss_s=t_faiss,
        ratio_ours_over_faiss=t_ours['median'] / t_faiss['median'],
        ours_mean_cosine=mean_cosine(x, out['ours']),
        faiss_mean_cosine=mean_cosine(x, out['faiss']))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--n', type=int, default=100000)
    parser.add_argument('--dim', type=int, default=128)
    parser.add_argument('--k', type=int, default=3000)
    parser.add_argument('--iters', type=int, default=10)
    add_common_arguments(parser)
    parser.set_defaults(warmup=1, reps=3)
    args = parser.parse_args(argv)
    apply_threads(args.threads)
    res = run(args.n, args.dim, args.k, args.iters, args.warmup, args.reps,
              args.device, args.threads)
    print(f"re-clustering {res['n']} x {res['dim']} -> {res['k']} groups, "
          f"{res['iters']} iterations, on {res['device']}")
    print(f"  cld_mm kmeans: {res['ours_s']['median']:.2f} s "
          f"(min {res['ours_s']['min']:.2f}), mean cosine "
          f"{res['ours_mean_cosine']:.4f}")
    print(f"  faiss-cpu    : {res['faiss_s']['median']:.2f} s "
          f"(min {res['faiss_s']['min']:.2f}, {res['faiss_threads']} "
          f"threads), mean cosine {res['faiss_mean_cosine']:.4f}")
    print(f"  ratio ours / faiss: {res['ratio_ours_over_faiss']:.2f}")
    if args.json:
        write_json(args.json, res)
    return res


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
