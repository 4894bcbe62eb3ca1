"""Nearest-neighbour retrieval of two checkpoints side by side.

    python tools/analysis/retrieval_grid.py CONFIG CKPT_A CKPT_B
        [--config-b CONFIG_B] [--names NPID NPID+CLD] [--queries N]
        [--topk 8] [--memory-per-class 100] [--level neck|backbone]
        [--out work_dirs/analysis/retrieval_grid.png]

Each row is a test image (one per class, in class order; every class unless
``--queries`` limits them), labelled with its class, and its ``topk`` most
cosine-similar training images under each checkpoint; neighbours of the
query's class are outlined green, others red (the layout of the CLD
supplement's retrieval figure). The memory is the config's ``memory`` split
(training images with test transforms), limited to ``--memory-per-class``.
Each checkpoint's neck / backbone weights must fit its config exactly
(:mod:`cld_mm.evaluation.checkpoint`).
"""
import argparse
import os.path as osp
import sys
from typing import List

import mmcv
import torch

from cld_mm.evaluation.checkpoint import CheckpointMismatchError
from cld_mm.evaluation.features import (
    HelpFormatter,
    balanced_indices,
    build_split_dataset,
    dataset_labels,
    extract_features,
    load_model,
)
from cld_mm.evaluation.plots import plot_retrieval_grid


def top_neighbours(query: torch.Tensor, memory: torch.Tensor,
                   k: int) -> torch.Tensor:
    """(Q, k) memory indices of the k most cosine-similar rows per query."""
    if k > memory.shape[0]:
        raise ValueError(f'topk={k} exceeds the {memory.shape[0]} memory '
                         'images')
    return (query @ memory.t()).topk(k, dim=1).indices


def retrieve(config: str, checkpoint, queries: List[int], memory_idx, k: int,
             level=None, device='cpu', data_root=None) -> dict:
    """Neighbours of the query images among the memory images."""
    model = load_model(config, checkpoint, device, eval_level=level)
    qset = build_split_dataset(config, 'query', data_root=data_root)
    mset = build_split_dataset(config, 'memory', data_root=data_root)
    q = extract_features(model, qset, queries)
    m = extract_features(model, mset, memory_idx)
    classes = qset.metainfo.get('classes') or []
    nn = top_neighbours(q['feats'], m['feats'], k)          # Q x k
    correct = m['labels'][nn] == q['labels'][:, None]       # Q x k
    return dict(query_paths=q['paths'], query_labels=q['labels'],
                query_names=[classes[y] if y < len(classes) else str(y)
                             for y in q['labels'].tolist()],
                neighbour_paths=[[m['paths'][j] for j in row]
                                 for row in nn.tolist()],
                neighbour_labels=m['labels'][nn], correct=correct,
                precision=float(correct.float().mean()))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(
        description='retrieval grid of 2 checkpoints',
        formatter_class=HelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint_a', help="'none': random initialisation")
    p.add_argument('checkpoint_b', help="'none': random initialisation")
    p.add_argument('--config-b', help='config of CKPT_B (default: CONFIG)')
    p.add_argument('--names', nargs=2, help='panel titles (default: the '
                   'checkpoint paths)')
    p.add_argument('--queries', type=int, help='query rows, one test image '
                   'per class in class order (default: every class)')
    p.add_argument('--topk', type=int, default=8, help='neighbours per row')
    p.add_argument('--memory-per-class', type=int, default=100,
                   help='training images searched per class')
    p.add_argument('--level', choices=['neck', 'backbone'],
                   help="feature level (default: the config's)")
    p.add_argument('--data-root', help="replace the config's data root")
    p.add_argument('--device', default='cpu', help='cpu or cuda')
    p.add_argument('--out', default='work_dirs/analysis/retrieval_grid.png',
                   help='PNG of the grid')
    args = p.parse_args(argv)
    configs = [args.config, args.config_b or args.config]
    ckpts = [None if c == 'none' else c
             for c in (args.checkpoint_a, args.checkpoint_b)]
    names = args.names or ['/'.join(osp.normpath(c).split(osp.sep)[-2:])
                           if c else 'random init' for c in ckpts]
    qlabels = dataset_labels(build_split_dataset(configs[0], 'query',
                                                 data_root=args.data_root))
    queries = balanced_indices(qlabels, 1)[:args.queries]  # None: all
    mlabels = dataset_labels(build_split_dataset(configs[0], 'memory',
                                                 data_root=args.data_root))
    memory_idx = balanced_indices(mlabels, args.memory_per_class)
    panels, results = [], []
    for cfg, ckpt, name in zip(configs, ckpts, names):
        r = retrieve(cfg, ckpt, queries, memory_idx, args.topk, args.level,
                     args.device, args.data_root)
        results.append(r)
        panels.append(dict(
            name=name, correct=r['correct'].tolist(),
            query_names=r['query_names'],
            queries=[mmcv.imread(x, channel_order='rgb')
                     for x in r['query_paths']],
            neighbours=[[mmcv.imread(x, channel_order='rgb') for x in row]
                        for row in r['neighbour_paths']]))
        print(f'{name}: {100 * r["precision"]:.1f}% of the top-{args.topk} '
              f'neighbours share the query class')
    plot_retrieval_grid(panels, args.out,
                        f'top-{args.topk} training neighbours of test images '
                        f'({len(memory_idx)} training images searched)')
    print(f'wrote {args.out}')
    return dict(out=args.out, results=results, names=names)


if __name__ == '__main__':
    try:
        main()
    except (CheckpointMismatchError, FileNotFoundError, ValueError) as e:
        sys.exit(f'{osp.basename(__file__)}: error: {e}')
