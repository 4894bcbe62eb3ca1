"""STL10 on a binary file written here; LongTailDataset's class counts."""
import numpy as np
import pytest
import torch
from mmpretrain.registry import DATASETS

from cld_mm.datasets import LongTailDataset, long_tail_counts


def _write_stl(root, part, images, labels=None):
    # stored per image as 3 channels of 96 x 96, column-major (C, x, y)
    stored = images.transpose(0, 3, 2, 1)  # (N, H=y, W=x, C) -> (N, C, x, y)
    stored.astype(np.uint8).tofile(str(root / f'{part}_X.bin'))
    if labels is not None:
        (np.asarray(labels) + 1).astype(np.uint8).tofile(
            str(root / f'{part}_y.bin'))


@pytest.fixture
def stl_root(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    unl = rng.integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    _write_stl(tmp_path, 'train', train, [0, 9, 4])
    _write_stl(tmp_path, 'unlabeled', unl)
    return tmp_path, train, unl


def test_stl10_reads_images_and_labels(stl_root):
    root, train, unl = stl_root
    ds = DATASETS.build(dict(type='STL10', data_root=str(root),
                             split='train+unlabeled', pipeline=[]))
    assert len(ds) == 5
    for i in range(3):  # written RGB, given BGR like LoadImageFromFile
        info = ds.get_data_info(i)
        assert np.array_equal(info['img'], train[i][..., ::-1])
        assert info['sample_idx'] == i
    assert [ds.get_data_info(i)['gt_label'] for i in range(3)] == [0, 9, 4]
    assert np.array_equal(ds.get_data_info(4)['img'], unl[1][..., ::-1])
    assert 'gt_label' not in ds.get_data_info(4)
    # through a real pipeline: 2 views of 32 px
    ds = DATASETS.build(dict(
        type='STL10', data_root=str(root), split='train', pipeline=[
            dict(type='MultiView', num_views=2, transforms=[[
                dict(type='RandomResizedCrop', scale=32, backend='pillow')]]),
            dict(type='PackInputs')]))
    item = ds[1]
    assert [v.shape for v in item['inputs']] == [torch.Size([3, 32, 32])] * 2
    assert int(item['data_samples'].gt_label) == 9


def test_stl10_errors(stl_root, tmp_path):
    root, _, _ = stl_root
    with pytest.raises(ValueError, match='split'):
        DATASETS.build(dict(type='STL10', data_root=str(root), split='val'))
    with pytest.raises(FileNotFoundError, match='test_X.bin'):
        DATASETS.build(dict(type='STL10', data_root=str(root), split='test'))
    (root / 'unlabeled_X.bin').write_bytes(b'\0' * 100)
    with pytest.raises(ValueError, match='whole number'):
        DATASETS.build(dict(type='STL10', data_root=str(root),
                            split='unlabeled'))


def test_long_tail_counts_exponential_profile():
    counts = long_tail_counts(5000, 10, 100)
    assert counts[0] == 5000 and counts[-1] == 50
    assert counts == [int(5000 * 100 ** (-c / 9)) for c in range(10)]
    assert sum(counts) == 12406
    assert sum(long_tail_counts(500, 100, 100)) == 10847
    with pytest.raises(ValueError):
        long_tail_counts(10, 3, 0.5)


class _Labels:
    """A tiny mmengine-like dataset: one label per item, identity pipeline."""

    def __init__(self, labels):
        self.labels = labels
        self.metainfo = dict(classes=tuple(str(c) for c in range(3)))

    def __len__(self):
        return len(self.labels)

    def get_cat_ids(self, i):
        return [self.labels[i]]

    def get_data_info(self, i):
        return dict(orig=i, gt_label=self.labels[i], sample_idx=i)

    def pipeline(self, info):
        return info


def test_long_tail_wrapper_keeps_first_images_per_class():
    labels = [i % 3 for i in range(60)]  # 20 per class, interleaved
    lt = LongTailDataset(_Labels(labels), imbalance_ratio=4)
    # n_c = 20 * 4 ** (-c / 2): 20, 10, 5
    assert lt.counts == [20, 10, 5]
    assert len(lt) == 35
    kept = [lt[i]['orig'] for i in range(len(lt))]
    assert kept == sorted(kept)
    per_class = np.bincount([labels[k] for k in kept], minlength=3)
    assert per_class.tolist() == [20, 10, 5]
    # the first 10 images of class 1, the first 5 of class 2
    assert [k for k in kept if labels[k] == 2] == [2, 5, 8, 11, 14]
    # sample_idx indexes the subset (memory banks rely on it)
    assert [lt[i]['sample_idx'] for i in range(len(lt))] == list(range(35))
    assert lt.get_cat_ids(34) == [labels[kept[34]]]


def test_long_tail_on_a_real_folder_dataset(cifar_slice):
    root, train_ann, _ = cifar_slice  # 8 images per class
    lt = DATASETS.build(dict(
        type='LongTailDataset', imbalance_ratio=8,
        dataset=dict(type='CustomDataset', data_root=root, ann_file=train_ann,
                     pipeline=[])))
    expected = [int(8 * 8 ** (-c / 9)) for c in range(10)]
    counts = np.bincount([lt.get_cat_ids(i)[0] for i in range(len(lt))],
                         minlength=10)
    assert counts.tolist() == expected == lt.counts
