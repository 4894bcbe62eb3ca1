"""NMI of k-means clusters of features against labels, for checkpoints.

    python tools/analysis/cluster_nmi.py CONFIG CKPT [CKPT ...]
        [--ks 10 20 50 100] [--per-class 100] [--split query]
        [--level neck|backbone|group]
        [--out work_dirs/analysis/cluster_nmi.png]

``--level group`` clusters a CLD model's group-branch features (the space
CLD's batch k-means works in), giving the group entropy of CLD's groups
(SMoG's own groups: ``group_entropy.py``). Each checkpoint's weights for the
level must fit the config exactly (:mod:`cld_mm.evaluation.checkpoint`):
a CLD config's group level refuses a checkpoint without a trained group
branch.

For each checkpoint and each K, spherical k-means (``cld_mm.models.utils.
kmeans.kmeans``, k-means++ seeding) clusters the features; the table gives
NMI against the labels, the mean class entropy of the groups (nats, as for
SMoG's groups: :mod:`cld_mm.evaluation.group_metrics`; 0 = every group
pure) and the normalised entropy of the group sizes (1: equal sizes). The
PNG plots NMI against K, one line per checkpoint.
"""
import argparse
import math
import os.path as osp
import sys
from typing import Dict, List, Sequence

import torch

from cld_mm.evaluation.checkpoint import CheckpointMismatchError
from cld_mm.evaluation.features import (
    HelpFormatter,
    add_data_arguments,
    load_features,
    load_model,
)
from cld_mm.evaluation.plots import plot_curves


def short_name(path: str) -> str:
    """``parent/file`` of a checkpoint path, for legends."""
    return '/'.join(osp.normpath(path).split(osp.sep)[-2:])


def cluster_size_entropy(labels: torch.Tensor, num_clusters: int) -> float:
    """Entropy of the cluster-size distribution over log K (in [0, 1])."""
    if num_clusters < 2:
        return 0.0
    p = torch.bincount(labels, minlength=num_clusters).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum() / math.log(num_clusters))


def cluster_scores(feats: torch.Tensor, labels: torch.Tensor,
                   ks: Sequence[int], seed: int = 0) -> List[Dict]:
    """NMI, group class entropy, size entropy of spherical k-means per K."""
    from cld_mm.evaluation.group_metrics import group_quality
    from cld_mm.models.utils.kmeans import kmeans
    rows = []
    for k in ks:
        if k > feats.shape[0]:
            raise ValueError(f'K={k} exceeds the {feats.shape[0]} images')
        gen = torch.Generator().manual_seed(seed)
        assign, _ = kmeans(feats, k, num_iters=20, spherical=True,
                           init='kmeans++', generator=gen)
        quality = group_quality(assign, labels, k)
        rows.append(dict(k=k, nmi=quality['nmi'],
                         group_entropy=quality['mean_entropy'],
                         size_entropy=cluster_size_entropy(assign, k)))
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(
        description='k-means NMI against labels',
        formatter_class=HelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoints', nargs='+',
                   help="checkpoints ('none': random initialisation)")
    add_data_arguments(p)
    p.add_argument('--ks', type=int, nargs='+', default=[10, 20, 50, 100],
                   help='numbers of k-means clusters')
    p.add_argument('--seed', type=int, default=0,
                   help='k-means++ seed')
    p.add_argument('--out', default='work_dirs/analysis/cluster_nmi.png',
                   help='PNG of NMI against K')
    args = p.parse_args(argv)
    results, curves = {}, {}
    print('| checkpoint | K | NMI (%) | group class entropy | '
          'group-size entropy |')
    print('|---|---:|---:|---:|---:|')
    for ckpt in args.checkpoints:
        path = None if ckpt == 'none' else ckpt
        model = load_model(args.config, path, args.device, args.level)
        data = load_features(args.config, path, args.split, args.per_class,
                             level=args.level, data_root=args.data_root,
                             ann_file=args.ann_file,
                             batch_size=args.batch_size, model=model)
        rows = cluster_scores(data['feats'], data['labels'], args.ks,
                              args.seed)
        name = 'random init' if path is None else short_name(path)
        results[name] = rows
        curves[name] = ([r['k'] for r in rows],
                        [100 * r['nmi'] for r in rows])
        for r in rows:
            print(f"| {name} | {r['k']} | {100 * r['nmi']:.1f} | "
                  f"{r['group_entropy']:.3f} | {r['size_entropy']:.3f} |")
    n = len(data['labels'])
    plot_curves(curves, args.out,
                f'k-means NMI vs labels ({n} {args.split} images, '
                f'{data["feats"].shape[1]}-d {args.level or "eval"} '
                'features)',
                xlabel='k-means clusters K', ylabel='NMI (%)')
    print(f'wrote {args.out}')
    return dict(out=args.out, results=results)


if __name__ == '__main__':
    try:
        main()
    except (CheckpointMismatchError, FileNotFoundError, ValueError) as e:
        sys.exit(f'{osp.basename(__file__)}: error: {e}')
