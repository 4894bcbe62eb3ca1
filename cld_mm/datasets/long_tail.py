"""Long-tailed subsets with an exponential class profile (CIFAR-10/100-LT)."""
from typing import List

import numpy as np
from mmpretrain.registry import DATASETS


def long_tail_counts(max_count: int, num_classes: int,
                     imbalance_ratio: float) -> List[int]:
    """Images kept per class: ``floor(n_max * ratio ** (-c / (C - 1)))``.

    Class 0 keeps ``max_count``, the last class ``max_count / ratio``
    (rounded down), as in the CIFAR-LT benchmarks (Cui et al. 2019).
    """
    if imbalance_ratio < 1:
        raise ValueError(f'imbalance_ratio must be >= 1, got {imbalance_ratio}')
    if num_classes == 1:
        return [int(max_count)]
    return [int(max_count * imbalance_ratio ** (-c / (num_classes - 1)))
            for c in range(num_classes)]


@DATASETS.register_module()
class LongTailDataset:
    """Keep the first ``n_c`` images of every class c of a dataset.

    ``n_c`` follows :func:`long_tail_counts` with ``n_max`` the size of the
    smallest class of the wrapped (balanced) dataset. Each item's
    ``sample_idx`` is its index in this subset (memory banks index by it).

    Args:
        dataset (dict | Dataset): the balanced dataset (mmengine
            ``BaseDataset`` with ``get_cat_ids`` and a ``pipeline``).
        imbalance_ratio (float): n_max / n_min. Defaults to 100.
    """

    def __init__(self, dataset, imbalance_ratio: float = 100,
                 lazy_init: bool = False) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) \
            else dataset
        self.imbalance_ratio = imbalance_ratio
        if imbalance_ratio < 1:
            raise ValueError(
                f'imbalance_ratio must be >= 1, got {imbalance_ratio}')
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        labels = np.array([self.dataset.get_cat_ids(i)[0]
                           for i in range(len(self.dataset))])
        num_classes = len(self.dataset.metainfo.get('classes', ())) or \
            int(labels.max()) + 1
        present = [int((labels == c).sum()) for c in range(num_classes)]
        if min(present) == 0:
            raise ValueError(f'a class has no images: counts {present}')
        self.counts = long_tail_counts(min(present), num_classes,
                                       self.imbalance_ratio)
        keep = [np.flatnonzero(labels == c)[:n]
                for c, n in enumerate(self.counts)]
        self.indices = np.sort(np.concatenate(keep)).tolist()
        self._fully_initialized = True

    def __len__(self) -> int:
        return len(self.indices)

    def get_cat_ids(self, idx: int) -> List[int]:
        return self.dataset.get_cat_ids(self.indices[idx])

    def get_data_info(self, idx: int) -> dict:
        info = self.dataset.get_data_info(self.indices[idx])
        info['sample_idx'] = idx
        return info

    def __getitem__(self, idx: int):
        return self.dataset.pipeline(self.get_data_info(idx))
