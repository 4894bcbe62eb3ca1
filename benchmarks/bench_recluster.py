"""SMoG's re-clustering: cld_mm's two k-means paths vs faiss-cpu's k-means.

    python benchmarks/bench_recluster.py [--n 100000] [--dim 128] [--k 3000]
        [--iters 10] [--threads 2] [--warmup 1] [--reps 3] [--device cpu]
        [--small] [--json OUT.json]

All three cluster the same unit features (``n`` rows drawn around ``k``
random directions, so the clustering has structure to find) into ``k``
groups with spherical k-means, the same number of Lloyd iterations and a
random-rows initialisation:

* ``faiss path``: :func:`cld_mm.models.utils.kmeans_faiss.
  spherical_kmeans_recluster` (faiss's exhaustive search for the
  assignment, the torch update; SMoG's path for CPU features);
* ``torch path``: :func:`cld_mm.models.utils.kmeans.kmeans` (SMoG's path for
  GPU features and the fallback);
* ``faiss.Kmeans`` (no sub-sampling), the yardstick.

Prints the median seconds of each (the three alternate within every
repetition, so a busy machine slows them alike), the ratios to
``faiss.Kmeans``, the largest centroid difference between the two cld_mm
paths (same seed: they compute the same centroids), and a quality figure for
each: the mean cosine between a row and its nearest returned centroid
(higher is better). ``--small``: 4,000 x 32 into 100 groups.
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from common import (
    add_common_arguments,
    apply_threads,
    device_name,
    sync,
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
    from cld_mm.models.utils.kmeans_faiss import spherical_kmeans_recluster
    x = synthetic_features(n, dim, k, seed).to(device)
    x_np = x.cpu().numpy()
    if threads is not None:
        faiss.omp_set_num_threads(threads)

    out = {}

    def faiss_path():
        gen = torch.Generator().manual_seed(seed)
        out['faiss_path'] = spherical_kmeans_recluster(
            x, k, iters, generator=gen,
            backend='faiss' if x.device.type == 'cpu' else 'torch')

    def torch_path():
        gen = torch.Generator().manual_seed(seed)
        out['torch_path'] = kmeans(x, k, num_iters=iters, spherical=True,
                                   init='random', generator=gen)[1]

    def faiss_kmeans():
        km = faiss.Kmeans(dim, k, niter=iters, spherical=True, seed=seed,
                          verbose=False, max_points_per_centroid=n)
        km.train(x_np)
        out['faiss_kmeans'] = torch.from_numpy(km.centroids).to(device)

    fns = dict(faiss_path=faiss_path, torch_path=torch_path,
               faiss_kmeans=faiss_kmeans)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(reps):                 # alternate: same machine load
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    res = dict(n=n, dim=dim, k=k, iters=iters, device=device_name(device),
               faiss_threads=faiss.omp_get_max_threads(), reps=reps)
    for name, ts in times.items():
        res[f'{name}_s'] = dict(median=statistics.median(ts), min=min(ts),
                                max=max(ts), all=ts)
        res[f'{name}_mean_cosine'] = mean_cosine(x, out[name])
    ref = res['faiss_kmeans_s']['median']
    res['ratio_faiss_path_over_faiss_kmeans'] = \
        res['faiss_path_s']['median'] / ref
    res['ratio_torch_path_over_faiss_kmeans'] = \
        res['torch_path_s']['median'] / ref
    res['paths_max_abs_diff'] = float(
        (out['faiss_path'].float() - out['torch_path'].float()).abs().max())
    return res


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--n', type=int, default=100000)
    parser.add_argument('--dim', type=int, default=128)
    parser.add_argument('--k', type=int, default=3000)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--small', action='store_true',
                        help='4,000 x 32 into 100 groups, 5 iterations')
    add_common_arguments(parser)
    parser.set_defaults(warmup=1, reps=3)
    args = parser.parse_args(argv)
    if args.small:
        args.n, args.dim, args.k, args.iters = 4000, 32, 100, 5
    apply_threads(args.threads)
    res = run(args.n, args.dim, args.k, args.iters, args.warmup, args.reps,
              args.device, args.threads)
    print(f"re-clustering {res['n']} x {res['dim']} -> {res['k']} groups, "
          f"{res['iters']} iterations, on {res['device']}, faiss "
          f"{res['faiss_threads']} threads; median (min-max) of {res['reps']}")
    for name, label in (('faiss_path', 'cld_mm faiss path'),
                        ('torch_path', 'cld_mm torch path'),
                        ('faiss_kmeans', 'faiss.Kmeans     ')):
        t = res[f'{name}_s']
        print(f"  {label}: {t['median']:.2f} s ({t['min']:.2f}-"
              f"{t['max']:.2f}), mean cosine {res[f'{name}_mean_cosine']:.4f}")
    print(f"  ratio faiss path / faiss.Kmeans: "
          f"{res['ratio_faiss_path_over_faiss_kmeans']:.2f}")
    print(f"  ratio torch path / faiss.Kmeans: "
          f"{res['ratio_torch_path_over_faiss_kmeans']:.2f}")
    print(f"  max |faiss path - torch path| centroid entry: "
          f"{res['paths_max_abs_diff']:.1e}")
    if args.json:
        write_json(args.json, res)
    return res


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
