"""STL-10 read from its binary release (``stl10_binary/*.bin``)."""
import os.path as osp
from typing import List

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

STL10_CLASSES = ('airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse',
                 'monkey', 'ship', 'truck')
SPLITS = ('train', 'test', 'unlabeled', 'train+unlabeled')
IMG_BYTES = 3 * 96 * 96


@DATASETS.register_module()
class STL10(BaseDataset):
    """STL-10 (96 x 96) from the binary files, memory-mapped, BGR images.

    ``{split}_X.bin`` holds uint8 images, each stored channel by channel in
    column-major order (3 x 96 x 96, x before y); ``{split}_y.bin`` holds
    labels 1..10. The unlabeled split (100,000 images) has no labels: its
    samples carry no ``gt_label``. Images are read lazily, so the 2.7 GB
    unlabeled file is never loaded whole.

    Args:
        data_root (str): folder holding the ``.bin`` files (usually
            ``data/stl10/stl10_binary``).
        split (str): ``'train'`` (5,000), ``'test'`` (8,000), ``'unlabeled'``
            (100,000) or ``'train+unlabeled'`` (105,000, the SSL set).
            Defaults to ``'train+unlabeled'``.
        pipeline (list): transforms (no ``LoadImageFromFile``: ``img`` is
            given as an (H, W, 3) uint8 array in BGR order, as
            ``LoadImageFromFile`` decodes files and mmcv's colour transforms
            expect; configs set ``to_rgb=True`` in the data preprocessor).
    """

    METAINFO = dict(classes=STL10_CLASSES)

    def __init__(self, data_root: str, split: str = 'train+unlabeled',
                 pipeline=(), **kwargs) -> None:
        if split not in SPLITS:
            raise ValueError(f'STL10 split must be one of {SPLITS}, got '
                             f'{split!r}')
        self.split = split
        self._images = {}
        super().__init__(ann_file='', data_root=data_root, pipeline=pipeline,
                         **kwargs)

    def _images_of(self, part: str) -> np.memmap:
        if part not in self._images:
            path = osp.join(self.data_root, f'{part}_X.bin')
            if not osp.exists(path):
                raise FileNotFoundError(
                    f'STL-10 file {path} not found: data_root must hold the '
                    'stl10_binary release')
            size = osp.getsize(path)
            if size % IMG_BYTES:
                raise ValueError(f'{path}: {size} bytes is not a whole number '
                                 f'of 3x96x96 images')
            self._images[part] = np.memmap(path, np.uint8, 'r').reshape(
                -1, 3, 96, 96)
        return self._images[part]

    def load_data_list(self) -> List[dict]:
        data_list = []
        for part in self.split.split('+'):
            n = self._images_of(part).shape[0]
            labels = [None] * n
            if part != 'unlabeled':
                y_path = osp.join(self.data_root, f'{part}_y.bin')
                if not osp.exists(y_path):
                    raise FileNotFoundError(f'STL-10 labels {y_path} not found')
                y = np.fromfile(y_path, np.uint8).astype(np.int64) - 1
                if y.shape[0] != n:
                    raise ValueError(f'{y_path}: {y.shape[0]} labels for {n} '
                                     'images')
                labels = y.tolist()
            for row, label in enumerate(labels):
                info = dict(part=part, row=row)
                if label is not None:
                    info['gt_label'] = int(label)
                data_list.append(info)
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        # stored (C, x, y) RGB: to (y, x, C) = (H, W, C) BGR
        img = self._images_of(info['part'])[info['row']]
        info['img'] = np.ascontiguousarray(img[::-1].transpose(2, 1, 0))
        info['img_shape'] = info['ori_shape'] = (96, 96)
        return info
