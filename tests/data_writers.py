"""Tiny on-disk datasets in the formats the shipped configs read.

For Runner tests of configs whose dataset is not on this machine (the
CIFAR-10/100 python releases, STL-10's binary files, ImageNet-style lists
and class folders): each writer takes real images (from the shared CIFAR-10
JPEGs, :func:`cifar_images`) or synthetic ones and writes them in the
original release's format, so the config's own dataset class reads them.
"""
import os
import os.path as osp
import pickle
from typing import List, Sequence, Tuple

import numpy as np


def cifar_images(root: str, ann_file: str, limit: int = None
                 ) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """(N, 32, 32, 3) RGB uint8 images, (N,) labels and the relative paths
    of the first ``limit`` entries of a CIFAR-10 folder annotation list."""
    from PIL import Image
    with open(osp.join(root, ann_file)) as f:
        rows = [line.split() for line in f if line.strip()][:limit]
    imgs = np.stack([np.asarray(Image.open(osp.join(root, p)).convert('RGB'))
                     for p, _ in rows])
    return imgs, np.array([int(y) for _, y in rows]), [p for p, _ in rows]


def write_list(path: str, rel_paths: Sequence[str],
               labels: Sequence[int]) -> str:
    """An mmpretrain annotation list (``path label`` lines); returns path."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(f'{p} {int(y)}\n' for p, y in zip(rel_paths, labels))
    return path


def _release_rows(imgs_rgb: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB -> (N, 3*H*W) rows: the R plane, then G, then B."""
    n, h, w, c = imgs_rgb.shape
    return np.ascontiguousarray(imgs_rgb.transpose(0, 3, 1, 2)).reshape(
        n, c * h * w)


def write_cifar_python(data_root: str, imgs_rgb: np.ndarray,
                       labels: np.ndarray, cifar100: bool = False,
                       test_imgs_rgb: np.ndarray = None,
                       test_labels: np.ndarray = None) -> str:
    """A CIFAR-10 (5 train batches + test batch) or CIFAR-100 (train, test)
    python release under ``data_root``, as the original pickles store it:
    ``data`` (N, 3072) uint8, channel planes R, G, B, row-major."""
    folder = osp.join(data_root, 'cifar-100-python' if cifar100
                      else 'cifar-10-batches-py')
    os.makedirs(folder, exist_ok=True)
    key = 'fine_labels' if cifar100 else 'labels'
    if test_imgs_rgb is None:
        test_imgs_rgb, test_labels = imgs_rgb, labels

    def dump(name, imgs, ys):
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'data': _release_rows(imgs),
                         key: [int(y) for y in ys]}, f)

    if cifar100:
        dump('train', imgs_rgb, labels)
        dump('test', test_imgs_rgb, test_labels)
    else:
        parts = np.array_split(np.arange(len(imgs_rgb)), 5)
        for i, idx in enumerate(parts, 1):
            dump(f'data_batch_{i}', imgs_rgb[idx], labels[idx])
        dump('test_batch', test_imgs_rgb, test_labels)
    return folder


def write_stl10_part(data_root: str, part: str, imgs_rgb: np.ndarray,
                     labels: np.ndarray = None) -> None:
    """``{part}_X.bin`` (and ``{part}_y.bin``, labels 1..10) as STL-10
    stores them: per image the R, G, B planes, each column-major (x before
    y). ``imgs_rgb`` are (N, 96, 96, 3)."""
    os.makedirs(data_root, exist_ok=True)
    # (N, H, W, C) -> (N, C, W, H): column-major planes
    raw = np.ascontiguousarray(imgs_rgb.transpose(0, 3, 2, 1))
    raw.astype(np.uint8).tofile(osp.join(data_root, f'{part}_X.bin'))
    if labels is not None:
        (np.asarray(labels) + 1).astype(np.uint8).tofile(
            osp.join(data_root, f'{part}_y.bin'))


def upscale(imgs_rgb: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour upscaling of (N, h, w, 3) images to ``size`` px."""
    n, h, w, _ = imgs_rgb.shape
    rows = np.arange(size) * h // size
    cols = np.arange(size) * w // size
    return imgs_rgb[:, rows][:, :, cols]


def solid(colour_rgb: Sequence[int], size: int = 32) -> np.ndarray:
    """One (size, size, 3) uint8 RGB image of a single colour."""
    return np.broadcast_to(np.asarray(colour_rgb, np.uint8),
                           (size, size, 3)).copy()
