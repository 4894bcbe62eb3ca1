"""t-SNE and UMAP of a checkpoint's features, coloured by label.

    python tools/analysis/tsne.py CONFIG CHECKPOINT [--per-class 100]
        [--split query] [--level neck|backbone|group] [--perplexity 30]
        [--no-umap] [--out work_dirs/analysis/tsne.png]

Features come from :func:`cld_mm.evaluation.features.load_features` (the
config's test transforms; the level's weights must fit the config exactly).
The two panels are t-SNE and UMAP (``umap-learn``, in
``requirements/runtime.txt``); the 2-d embeddings are saved beside the PNG
(``.npz``: ``tsne``, ``umap``, ``labels``).
"""
import argparse
import os.path as osp
import sys

import numpy as np

from cld_mm.evaluation.checkpoint import CheckpointMismatchError
from cld_mm.evaluation.features import (
    HelpFormatter,
    add_data_arguments,
    load_features,
)
from cld_mm.evaluation.plots import plot_embedding


def embed_tsne(feats: np.ndarray, perplexity: float = 30.0,
               seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) t-SNE (cosine metric); perplexity capped at N - 1."""
    from sklearn.manifold import TSNE
    perplexity = min(perplexity, max(1.0, (feats.shape[0] - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, metric='cosine',
                init='pca', random_state=seed).fit_transform(feats)


def embed_umap(feats: np.ndarray, seed: int = 0,
               n_neighbors: int = 15) -> np.ndarray:
    """(N, D) -> (N, 2) UMAP (cosine metric); neighbours capped at N - 1."""
    try:
        import umap
    except ImportError as e:
        raise ImportError('UMAP needs umap-learn: pip install -c '
                          'requirements/constraints.txt umap-learn (or run '
                          'with --no-umap)') from e
    n_neighbors = max(2, min(n_neighbors, feats.shape[0] - 1))
    return umap.UMAP(n_components=2, metric='cosine', n_neighbors=n_neighbors,
                     random_state=seed).fit_transform(feats)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(
        description='t-SNE / UMAP of features',
        formatter_class=HelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint', help="mmengine checkpoint; 'none' for the "
                   'random initialisation')
    add_data_arguments(p)
    p.add_argument('--perplexity', type=float, default=30.0,
                   help='t-SNE perplexity (capped at (N - 1) / 3)')
    p.add_argument('--n-neighbors', type=int, default=15,
                   help='UMAP neighbours')
    p.add_argument('--no-umap', action='store_true', help='t-SNE only')
    p.add_argument('--seed', type=int, default=0,
                   help='t-SNE / UMAP random state')
    p.add_argument('--out', default='work_dirs/analysis/tsne.png',
                   help='PNG; the embeddings go to the same name .npz')
    args = p.parse_args(argv)
    ckpt = None if args.checkpoint == 'none' else args.checkpoint
    data = load_features(args.config, ckpt, args.split, args.per_class,
                         args.level, args.data_root, args.ann_file,
                         args.batch_size, args.device)
    feats = data['feats'].numpy()
    labels = data['labels'].numpy()
    panels = [('t-SNE', embed_tsne(feats, args.perplexity, args.seed))]
    if not args.no_umap:
        panels.append(('UMAP', embed_umap(feats, args.seed,
                                          args.n_neighbors)))
    name = osp.basename(ckpt) if ckpt else 'random init'
    title = (f'{osp.splitext(osp.basename(args.config))[0]} / {name}: '
             f'{len(labels)} {args.split} images, {feats.shape[1]}-d features')
    plot_embedding(panels[0][1], labels, data['classes'], args.out, title,
                   panels=panels)
    np.savez(osp.splitext(args.out)[0] + '.npz', labels=labels,
             **{k.lower().replace('-', ''): v for k, v in panels})
    print(f'wrote {args.out} ({", ".join(k for k, _ in panels)}, '
          f'{len(labels)} points)')
    return dict(out=args.out, labels=labels, panels=dict(panels))


if __name__ == '__main__':
    try:
        main()
    except (CheckpointMismatchError, FileNotFoundError, ValueError) as e:
        sys.exit(f'{osp.basename(__file__)}: error: {e}')
