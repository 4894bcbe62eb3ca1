"""Matplotlib (Agg) figures of the analysis tools: curves, embeddings, grids.

Every function writes one PNG and returns its path; none shows a window.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CORRECT, WRONG = '#1a9850', '#d73027'


def save_figure(fig, path: str) -> str:
    """Save ``fig`` to ``path`` (folders created), close it, return path."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches='tight')
    plt.close(fig)
    return path


def plot_curves(curves: Dict[str, Tuple[Sequence[float], Sequence[float]]],
                path: str, title: str, xlabel: str = 'epoch',
                ylabel: str = 'kNN top-1 (%)',
                references: Optional[Dict[str, float]] = None,
                colors: Optional[Dict[str, str]] = None) -> str:
    """One line per run: ``curves[name] = (x values, y values)``.

    ``references`` adds dashed horizontal lines (e.g. a paper's figure);
    ``colors`` maps curve or reference names to colours (default: cycle).
    """
    from matplotlib.ticker import MaxNLocator
    colors = colors or {}
    if not curves:
        raise ValueError('plot_curves needs at least one curve')
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, (xs, ys)) in enumerate(curves.items()):
        ax.plot(list(xs), list(ys), marker='o', markersize=4, label=name,
                color=colors.get(name, f'C{i % 10}'))
    for i, (name, y) in enumerate((references or {}).items()):
        ax.axhline(y, linestyle='--', linewidth=1, alpha=0.7, label=name,
                   color=colors.get(name, f'C{(len(curves) + i) % 10}'))
    if all(float(x).is_integer() for xs, _ in curves.values() for x in xs):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='best')
    return save_figure(fig, path)


def plot_embedding(xy: np.ndarray, labels: np.ndarray,
                   class_names: Sequence[str], path: str, title: str,
                   panels: Optional[List[Tuple[str, np.ndarray]]] = None
                   ) -> str:
    """Scatter of 2-d embeddings coloured by label.

    Args:
        xy (ndarray): (N, 2) embedding (ignored when ``panels`` is given).
        labels (ndarray): (N,) integer labels.
        class_names (Sequence[str]): legend names indexed by label.
        path (str): output PNG.
        title (str): figure title.
        panels (list, optional): ``[(subtitle, (N, 2) embedding), ...]`` drawn
            side by side (e.g. t-SNE and UMAP).
    """
    panels = panels or [('', xy)]
    labels = np.asarray(labels)
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5.5),
                             squeeze=False)
    cmap = plt.get_cmap('tab10' if len(class_names) <= 10 else 'tab20')
    for ax, (subtitle, emb) in zip(axes[0], panels):
        for c, name in enumerate(class_names):
            m = labels == c
            if m.any():
                ax.scatter(emb[m, 0], emb[m, 1], s=8, color=cmap(c % cmap.N),
                           label=name, alpha=0.8)
        ax.set_title(subtitle)
        ax.set_xlabel('dim 1')
        ax.set_ylabel('dim 2')
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=8, markerscale=2, loc='center left',
                       bbox_to_anchor=(1.0, 0.5), title='class')
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_retrieval_grid(panels: List[dict], path: str, title: str) -> str:
    """Query + top-k neighbours per row, one block of columns per model.

    Args:
        panels (list[dict]): one per model, each with ``name`` (str),
            ``queries`` (list of (H, W, 3) uint8 RGB images, Q of them),
            ``neighbours`` (Q lists of k images), ``correct`` (Q lists of k
            bools: neighbour label == query label) and optionally
            ``query_names`` (Q class names, written beside each query).
            Every panel has the same Q and k.
        path (str): output PNG.
        title (str): figure title.
    """
    if not panels:
        raise ValueError('plot_retrieval_grid needs at least one panel')
    q = len(panels[0]['queries'])
    k = len(panels[0]['neighbours'][0])
    cols_per = k + 1
    ncols = len(panels) * cols_per + (len(panels) - 1)   # a spacer column
    fig, axes = plt.subplots(q, ncols, figsize=(0.9 * ncols, 0.95 * q + 0.8),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for p, panel in enumerate(panels):
        c0 = p * (cols_per + 1)
        acc = 100.0 * np.mean(np.asarray(panel['correct'], dtype=float))
        axes[0][c0 + cols_per // 2].set_title(
            f"{panel['name']}\n(neighbours correct: {acc:.0f}%)", fontsize=9)
        for r in range(q):
            ax = axes[r][c0]
            ax.imshow(panel['queries'][r])
            ax.axis('on')
            ax.set_xticks([])
            ax.set_yticks([])
            names = panel.get('query_names')
            ax.set_ylabel(names[r] if names else f'query {r + 1}',
                          fontsize=7)
            for spine in ax.spines.values():
                spine.set_edgecolor('black')
                spine.set_linewidth(2)
            for j in range(k):
                ax = axes[r][c0 + 1 + j]
                ax.imshow(panel['neighbours'][r][j])
                ax.axis('on')
                ax.set_xticks([])
                ax.set_yticks([])
                color = CORRECT if panel['correct'][r][j] else WRONG
                for spine in ax.spines.values():
                    spine.set_edgecolor(color)
                    spine.set_linewidth(3)
                if r == 0:
                    ax.set_xlabel(f'#{j + 1}', fontsize=7)
                    ax.xaxis.set_label_position('top')
    fig.suptitle(title + '\n(black: query; green: same class; red: other '
                 'class)', fontsize=10)
    return save_figure(fig, path)
