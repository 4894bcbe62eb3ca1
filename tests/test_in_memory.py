"""InMemoryImages: decoded once, cached by content, a plain dataset for
mmengine's samplers (one process, 2 gloo ranks, resumed Runner)."""
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import torch
from mmengine.dataset import DefaultSampler, default_collate
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from torch.utils.data import DataLoader

from cld_mm.datasets import InMemoryImages

from dist_utils import run_gloo

# the CPU recipe's train pipeline: only LoadImageFromFile is kept
RECIPE_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2,
         transforms=[[dict(type='RandomResizedCrop', scale=32),
                      dict(type='RandomFlip', prob=0.5)]]),
    dict(type='PackInputs'),
]


def folder_cfg(root, ann, pipeline=RECIPE_PIPELINE):
    return dict(type='CustomDataset', data_root=root, ann_file=ann,
                pipeline=pipeline)


def read_list(root, ann):
    rows = [line.split() for line in open(osp.join(root, ann))]
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def test_folder_decoded_once_with_opencv_pixels(tmp_path, cifar_slice):
    root, train_ann, _ = cifar_slice
    ds = InMemoryImages(folder_cfg(root, train_ann), cache_dir=str(tmp_path))
    files, labels = read_list(root, train_ann)
    assert ds.decoded == len(files) == len(ds) == 80
    assert sorted(os.listdir(tmp_path)) == sorted(osp.basename(p)
                                                 for p in ds.paths)
    assert all(os.stat(p).st_mode & 0o777 == 0o644 for p in ds.paths)
    for i in (0, 37, 79):
        # an independent decode: OpenCV's BGR (H, W, C) -> (C, H, W)
        ref = cv2.imread(osp.join(root, files[i])).transpose(2, 0, 1)
        item = ds[i]
        assert item['inputs'].dtype == torch.uint8
        assert torch.equal(item['inputs'], torch.from_numpy(ref))
        assert item['data_samples'].sample_idx == i
        assert int(item['data_samples'].gt_label) == labels[i]
    assert ds.get_cat_ids(5) == [labels[5]]
    assert torch.equal(ds[-1]['inputs'], ds[79]['inputs'])


def test_second_build_reads_the_cache_and_the_key_follows_the_list(
        tmp_path, cifar_slice):
    root, train_ann, _ = cifar_slice
    first = InMemoryImages(folder_cfg(root, train_ann),
                           cache_dir=str(tmp_path))
    img_path, _ = first.paths
    # mark the cached array: a second build that decoded again would not
    # see the mark
    marked = np.load(img_path)
    marked[3] = 7
    np.save(img_path, marked)
    other_aug = [RECIPE_PIPELINE[0], dict(type='PackInputs')]
    again = InMemoryImages(folder_cfg(root, train_ann, other_aug),
                           cache_dir=str(tmp_path))
    assert again.decoded == 0 and again.paths == first.paths
    assert int(again[3]['inputs'].max()) == int(again[3]['inputs'].min()) == 7

    # same files, another order: another key, a fresh decode in that order
    files, labels = read_list(root, train_ann)
    lines = open(osp.join(root, train_ann)).readlines()
    rev = osp.join(str(tmp_path), 'reversed.txt')
    with open(rev, 'w') as f:
        f.writelines(lines[::-1])
    flipped = InMemoryImages(folder_cfg(root, rev), cache_dir=str(tmp_path))
    assert flipped.key != first.key and flipped.decoded == 80
    ref = cv2.imread(osp.join(root, files[0])).transpose(2, 0, 1)
    assert torch.equal(flipped[79]['inputs'], torch.from_numpy(ref))
    assert int(flipped[79]['data_samples'].gt_label) == labels[0]
    # one line less: another key again
    short = osp.join(str(tmp_path), 'short.txt')
    with open(short, 'w') as f:
        f.writelines(lines[:-1])
    assert len(InMemoryImages(folder_cfg(root, short),
                              cache_dir=str(tmp_path))) == 79


def test_cache_dir_from_the_environment(tmp_path, cifar_slice, monkeypatch):
    root, train_ann, _ = cifar_slice
    monkeypatch.setenv('CLD_MM_ARRAY_CACHE', str(tmp_path / 'env'))
    ds = InMemoryImages(folder_cfg(root, train_ann))
    assert ds.paths[0].startswith(str(tmp_path / 'env') + os.sep)
    assert osp.exists(ds.paths[0]) and osp.exists(ds.paths[1])


def write_cifar_python(root, n_per_batch=3, seed=0):
    """A tiny CIFAR-10 python release: 5 train batches + test, RGB rows."""
    rng = np.random.default_rng(seed)
    folder = osp.join(root, 'cifar-10-batches-py')
    os.makedirs(folder)
    rows, labels = [], []
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, n_per_batch).tolist()
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'data': data, 'labels': y}, f)
        if name != 'test_batch':
            rows.append(data)
            labels += y
    return np.concatenate(rows), labels


def test_cifar_python_release(tmp_path):
    rows, labels = write_cifar_python(str(tmp_path / 'cifar10'))
    ds = InMemoryImages(dict(type='CIFAR10Python',
                             data_root=str(tmp_path / 'cifar10'),
                             split='train', pipeline=[]),
                        cache_dir=str(tmp_path / 'cache'))
    assert len(ds) == 15 and ds.decoded == 15
    for i in (0, 7, 14):
        # stored plane by plane R, G, B -> the loaders' B, G, R
        ref = rows[i].reshape(3, 32, 32)[::-1]
        assert np.array_equal(ds[i]['inputs'].numpy(), ref)
        assert int(ds[i]['data_samples'].gt_label) == labels[i]


def test_stl10_binary_with_unlabeled(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / 'stl10_binary'
    root.mkdir()
    raw = {part: rng.integers(0, 256, (n, 3 * 96 * 96), dtype=np.uint8)
           for part, n in (('train', 3), ('unlabeled', 2))}
    for part, arr in raw.items():
        arr.tofile(str(root / f'{part}_X.bin'))
    np.array([3, 10, 1], np.uint8).tofile(str(root / 'train_y.bin'))
    ds = InMemoryImages(dict(type='STL10', data_root=str(root),
                             split='train+unlabeled', pipeline=[]),
                        cache_dir=str(tmp_path / 'cache'))
    assert len(ds) == 5
    stored = np.concatenate([raw['train'], raw['unlabeled']])
    for i in range(5):
        # stored (C, x, y) column-major RGB -> (C, y, x) BGR
        ref = stored[i].reshape(3, 96, 96).transpose(0, 2, 1)[::-1]
        assert np.array_equal(ds[i]['inputs'].numpy(), ref)
    assert [int(ds[i]['data_samples'].gt_label) for i in range(3)] == [2, 9, 0]
    assert 'gt_label' not in ds[3]['data_samples']
    assert ds.get_cat_ids(4) == []


def test_default_sampler_and_collate(tmp_path, cifar_slice):
    root, train_ann, _ = cifar_slice
    ds = InMemoryImages(folder_cfg(root, train_ann), cache_dir=str(tmp_path))
    sampler = DefaultSampler(ds, shuffle=True, seed=3)
    loader = DataLoader(ds, batch_size=16, sampler=sampler,
                        collate_fn=default_collate, num_workers=1)
    seen = []
    for batch in loader:
        assert batch['inputs'].shape == (16, 3, 32, 32)
        assert batch['inputs'].dtype == torch.uint8
        idx = [s.sample_idx for s in batch['data_samples']]
        for k in (0, 15):
            assert torch.equal(batch['inputs'][k], ds[idx[k]]['inputs'])
        seen += idx
    assert sorted(seen) == list(range(80)) and seen != list(range(80))


def _ranks_worker(rank, world_size, root, ann, cache):
    ds = InMemoryImages(folder_cfg(root, ann), cache_dir=cache)
    sampler = DefaultSampler(ds, shuffle=True, seed=5)
    sampler.set_epoch(1)
    idx = list(sampler)
    first = ds[idx[0]]['inputs']
    return dict(decoded=ds.decoded, idx=idx, first=first)


def test_two_gloo_ranks_one_decode_disjoint_shards(tmp_path, cifar_slice):
    root, train_ann, _ = cifar_slice
    cache = str(tmp_path / 'cache')
    out = run_gloo(_ranks_worker, 2, (root, train_ann, cache))
    assert [o['decoded'] for o in out] == [80, 0]  # local rank 0 decodes
    a, b = out[0]['idx'], out[1]['idx']
    assert len(a) == len(b) == 40
    assert not set(a) & set(b) and sorted(a + b) == list(range(80))
    files, _ = read_list(root, train_ann)
    ref = cv2.imread(osp.join(root, files[b[0]])).transpose(2, 0, 1)
    assert torch.equal(out[1]['first'], torch.from_numpy(ref))


@MODELS.register_module(force=True)
class InMemoryRecordingModel(BaseModel):
    """One linear layer on the mean of the views; records what it saw."""

    def __init__(self, data_preprocessor):
        super().__init__(data_preprocessor=data_preprocessor)
        self.fc = torch.nn.Linear(3, 1)
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.seen.append((
            [s.sample_idx for s in data_samples],
            [v.double().sum().item() for v in inputs]))
        feat = torch.stack([v.mean((2, 3)) for v in inputs]).mean(0)
        return dict(loss=self.fc(feat).pow(2).mean())


def _runner(work_dir, root, ann, cache, epochs, resume=False):
    # built by the Runner after it seeds torch: the preprocessor's view
    # seed comes from randomness.seed
    pre = dict(type='DeviceMultiViewPreprocessor',
               view_pipeline=[dict(type='RandomResizedCrop', scale=16,
                                   crop_ratio_range=(0.2, 1.),
                                   backend='pillow'),
                              dict(type='RandomFlip', prob=0.5)],
               num_views=2, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True)
    return Runner(
        model=dict(type='InMemoryRecordingModel', data_preprocessor=pre),
        work_dir=work_dir,
        train_dataloader=dict(
            batch_size=16, num_workers=0, drop_last=True,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='InMemoryImages',
                         dataset=folder_cfg(root, ann), cache_dir=cache)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=100)),
        randomness=dict(seed=11), resume=resume, default_scope='mmpretrain',
        log_level='WARNING')


def test_resumed_runner_sees_the_same_samples_and_views(tmp_path, cifar_slice):
    root, train_ann, _ = cifar_slice
    cache = str(tmp_path / 'cache')
    whole = _runner(str(tmp_path / 'whole'), root, train_ann, cache, 2)
    whole.train()
    ref = whole.model.seen
    assert len(ref) == 10  # 2 epochs x 5 batches
    part = _runner(str(tmp_path / 'part'), root, train_ann, cache, 1)
    part.train()
    assert [s[0] for s in part.model.seen] == [s[0] for s in ref[:5]]
    assert part.model.seen == ref[:5]
    resumed = _runner(str(tmp_path / 'part'), root, train_ann, cache, 2,
                      resume=True)
    resumed.train()
    assert resumed.model.seen == ref[5:]
    # epochs differ in order and views
    assert ref[5][0] != ref[0][0] and ref[5][1] != ref[0][1]
