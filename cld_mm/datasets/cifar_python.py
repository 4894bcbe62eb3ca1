"""CIFAR-10/100 read from their python releases, with BGR images.

mmpretrain's ``CIFAR10`` / ``CIFAR100`` hand RGB arrays to the pipeline,
while mmcv's colour transforms (``ColorJitter``, ``RandomGrayscale`` with
``channel_weights``) and images decoded by ``LoadImageFromFile`` are BGR. The
classes here read the same files but give BGR arrays, so every cld_mm
pipeline sees one channel order and every config's data preprocessor sets
``to_rgb=True``. They never download (the python release must be on disk)
and check the files' content (array sizes, label counts) instead of their
md5 sums, so a re-packed or sub-sampled release loads as well.
"""
import os.path as osp
import pickle
from typing import List

import numpy as np
from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.registry import DATASETS

IMG_VALUES = 3 * 32 * 32


def read_cifar_batches(folder: str, files: List[str],
                       label_key: str) -> tuple:
    """Images (N, 32, 32, 3) BGR uint8 and labels (N,) of pickled batches.

    Raises:
        FileNotFoundError: a batch file is missing.
        ValueError: a batch's arrays do not hold whole 3x32x32 images or
            do not match its label count.
    """
    imgs, labels = [], []
    for name in files:
        path = osp.join(folder, name)
        if not osp.exists(path):
            raise FileNotFoundError(
                f'CIFAR batch {path} not found: data_root must hold the '
                f'python release ({osp.basename(folder)}/)')
        with open(path, 'rb') as f:
            entry = pickle.load(f, encoding='latin1')
        data = np.asarray(entry['data'], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != IMG_VALUES:
            raise ValueError(f'{path}: data of shape {data.shape} is not '
                             f'(N, {IMG_VALUES}) uint8 images')
        if label_key not in entry or len(entry[label_key]) != len(data):
            raise ValueError(f'{path}: needs {len(data)} {label_key!r}')
        imgs.append(data)
        labels.extend(int(y) for y in entry[label_key])
    # stored (N, C, H, W) RGB -> (N, H, W, C) BGR
    imgs = np.concatenate(imgs).reshape(-1, 3, 32, 32)[:, ::-1]
    return np.ascontiguousarray(imgs.transpose(0, 2, 3, 1)), np.asarray(labels)


class _PythonReleaseMixin:
    label_key = 'labels'

    def load_data_list(self) -> List[dict]:
        folder = osp.join(self.data_prefix['root'], self.base_folder)
        files = self.train_list if self.split == 'train' else self.test_list
        imgs, labels = read_cifar_batches(folder, [f for f, _ in files],
                                          self.label_key)
        return [dict(img=img, gt_label=int(y)) for img, y in zip(imgs, labels)]


@DATASETS.register_module()
class CIFAR10Python(_PythonReleaseMixin, CIFAR10):
    """CIFAR-10 from ``{data_root}/cifar-10-batches-py``, BGR images.

    Arguments as mmpretrain's ``CIFAR10`` (``download`` is ignored).
    """


@DATASETS.register_module()
class CIFAR100Python(_PythonReleaseMixin, CIFAR100):
    """CIFAR-100 from ``{data_root}/cifar-100-python``, BGR images.

    Arguments as mmpretrain's ``CIFAR100`` (``download`` is ignored); the
    100 fine labels.
    """
    label_key = 'fine_labels'
