"""CIFAR-10 folder preparation and the kNN evaluation dataset."""
import io
import os
import os.path as osp
import pickle
import tarfile

import cv2
import numpy as np
import pytest
import torch
from mmpretrain.registry import DATASETS

from cld_mm.datasets import prepare_cifar10_folder
from cld_mm.datasets.cifar_folder import CIFAR10_CLASSES


def _write_batches(folder, per_batch=20):
    os.makedirs(folder)
    rng = np.random.RandomState(0)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        labels = [i % 10 for i in range(per_batch)]
        data = rng.randint(0, 256, (per_batch, 3072), dtype=np.uint8)
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'data': data, 'labels': labels}, f)
    return data, labels


def test_prepare_from_python_batches(tmp_path):
    src = str(tmp_path / 'cifar-10-batches-py')
    data, labels = _write_batches(src)
    subsets = {'train_s': ('train', 3), 'test_s': ('test', 1)}
    sizes = prepare_cifar10_folder(str(tmp_path / 'out'), batches=src,
                                   subsets=subsets)
    assert sizes == {'train': 100, 'test': 20, 'train_s': 30, 'test_s': 10}
    # test images are written losslessly, channel order preserved
    img = cv2.imread(str(tmp_path / 'out' / 'test' / 'airplane' / '0000.png'))
    expected = data[0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(img[:, :, ::-1], expected)
    lines = open(tmp_path / 'out' / 'meta' / 'train_s.txt').read().split('\n')
    counts = np.bincount([int(x.split()[1]) for x in lines if x], minlength=10)
    assert counts.tolist() == [3] * 10


def test_prepare_from_tar_and_is_idempotent(tmp_path):
    tar_path = tmp_path / 'c.tar.gz'
    ok, jpg = cv2.imencode('.jpg', np.zeros((32, 32, 3), np.uint8))
    with tarfile.open(tar_path, 'w:gz') as t:
        for split, n in (('train', 2), ('test', 1)):
            for cls in CIFAR10_CLASSES:
                for i in range(n):
                    info = tarfile.TarInfo(f'{split}/{cls}/{i:04d}.jpg')
                    info.size = len(jpg)
                    t.addfile(info, io.BytesIO(jpg.tobytes()))
    out = str(tmp_path / 'out')
    subsets = {'train_s': ('train', 1)}
    assert prepare_cifar10_folder(out, tar=str(tar_path), subsets=subsets) \
        == {'train': 20, 'test': 10, 'train_s': 10}
    mtime = os.stat(osp.join(out, 'meta', 'train.txt')).st_mtime_ns
    prepare_cifar10_folder(out, tar=str(tar_path))  # complete: no rewrite
    assert os.stat(osp.join(out, 'meta', 'train.txt')).st_mtime_ns == mtime


def test_prepare_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match='CIFAR-10 source not found'):
        prepare_cifar10_folder(str(tmp_path / 'o'), tar=str(tmp_path / 'x'))
    with pytest.raises(ValueError, match='exactly one source'):
        prepare_cifar10_folder(str(tmp_path / 'o2'))


def test_knn_dataset_roles_and_labels(cifar_slice):
    root, train_ann, test_ann = cifar_slice
    pipe = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    ds = DATASETS.build(dict(
        type='KNNDataset',
        memory=dict(type='CustomDataset', data_root=root, ann_file=train_ann,
                    pipeline=pipe),
        query=dict(type='CustomDataset', data_root=root, ann_file=test_ann,
                   pipeline=pipe)))
    assert len(ds) == 120
    first, last = ds[0], ds[119]
    assert first['data_samples'].knn_role == 0
    assert last['data_samples'].knn_role == 1
    assert first['inputs'].shape == (3, 32, 32)
    assert last['data_samples'].gt_label.item() == 9


def test_two_view_pipeline_on_real_images(cifar_slice):
    from mmengine.config import Config
    root, train_ann, _ = cifar_slice
    cfg = Config.fromfile('configs/_base_/datasets/cifar10_folder_mv.py')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root=root, ann_file=train_ann)
    ds = DATASETS.build(ds_cfg)
    item = ds[5]
    assert len(item['inputs']) == 2
    a, b = item['inputs']
    assert a.shape == b.shape == (3, 32, 32)
    assert not torch.equal(a, b)  # two different augmentations
    assert item['data_samples'].sample_idx == 5


def test_aug_plus_erasing_views_on_real_images(cifar_slice):
    """The MoCo+CLD CIFAR-10 views (--aug-plus --erasing): 3 crops of 32 px,
    each with one erased rectangle of 2-33 % of the image filled with the
    dataset mean (BGR, what becomes 0 after the preprocessor's normalization).
    """
    from mmengine.config import Config
    from mmengine.dataset import Compose

    import cld_mm  # noqa: F401

    from utils import REPO
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py'))
    root, train_ann, _ = cifar_slice
    pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
    fill = np.array([113, 122, 125], dtype=np.uint8)  # the BGR mean, floored
    with open(osp.join(root, train_ann)) as f:
        files = [line.split()[0] for line in f][:8]
    mean_bgr = np.array(cfg.data_preprocessor.mean[::-1])
    for name in files:
        out = pipeline(dict(img_path=osp.join(root, name)))
        views = out['inputs']
        assert len(views) == 3
        for v in views:
            img = v.permute(1, 2, 0).numpy()
            assert img.shape == (32, 32, 3)
            erased = (img == fill).all(axis=2)
            assert 0.02 * 1024 - 1 <= erased.sum() <= 0.33 * 1024 + 1
            rows, cols = np.nonzero(erased)
            # one axis-aligned rectangle
            box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            assert box == erased.sum()
    # the fill is the preprocessor's mean in BGR order: 0 once normalized
    erasing = cfg.train_dataloader.dataset.pipeline[1].transforms[0][-1]
    assert list(erasing.fill_color) == list(mean_bgr)
    assert (np.floor(mean_bgr) == fill).all()
