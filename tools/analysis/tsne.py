"""t-SNE (and UMAP where installed) of a checkpoint's features, by label.

    python tools/analysis/tsne.py CONFIG CHECKPOINT [--per-class 100]
        [--split query] [--level neck|backbone] [--perplexity 30]
        [--out work_dirs/analysis/tsne.png]

Features come from :func:`cld_mm.evaluation.features.load_features` (the
config's test transforms). The 2-d embeddings are saved beside the PNG
(``.npz``: ``tsne``, ``umap`` when present, ``labels``).
"""
import argparse
import os.path as osp

import numpy as np

from cld_mm.evaluation.features import add_data_arguments, load_features
from cld_mm.evaluation.plots import plot_embedding


def embed_tsne(feats: np.ndarray, perplexity: float = 30.0,
               seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) t-SNE (cosine metric); perplexity capped at N - 1."""
    from sklearn.manifold import TSNE
    perplexity = min(perplexity, max(1.0, (feats.shape[0] - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, metric='cosine',
                init='pca', random_state=seed).fit_transform(feats)


def embed_umap(feats: np.ndarray, seed: int = 0):
    """(N, 2) UMAP embedding, or None when ``umap`` is not installed."""
    try:
        import umap
    except ImportError:
        return None
    return umap.UMAP(n_components=2, metric='cosine',
                     random_state=seed).fit_transform(feats)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description='t-SNE / UMAP of features')
    p.add_argument('config')
    p.add_argument('checkpoint', help="mmengine checkpoint; 'none' for the "
                   'random initialisation')
    add_data_arguments(p)
    p.add_argument('--perplexity', type=float, default=30.0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default='work_dirs/analysis/tsne.png')
    args = p.parse_args(argv)
    ckpt = None if args.checkpoint == 'none' else args.checkpoint
    data = load_features(args.config, ckpt, args.split, args.per_class,
                         args.level, args.data_root, args.ann_file,
                         args.batch_size, args.device)
    feats = data['feats'].numpy()
    labels = data['labels'].numpy()
    panels = [('t-SNE', embed_tsne(feats, args.perplexity, args.seed))]
    um = embed_umap(feats, args.seed)
    if um is not None:
        panels.append(('UMAP', um))
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
    main()
