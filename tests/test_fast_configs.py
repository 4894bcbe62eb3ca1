"""configs/fast: each CPU recipe with the fast data path and nothing else.

Every fast config resolves to its recipe's dict except the data loading
(the train dataset wrapped in ``InMemoryImages``, the data preprocessor
becoming ``DeviceMultiViewPreprocessor`` with the recipe's own view pipeline
and view count); a real Runner trains each algorithm's fast config for 2
iterations on a 20-image slice (the shared CIFAR-10 JPEGs; synthetic
CIFAR-100 and STL-10 releases written here).
"""
import copy
import functools
import glob
import math
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from utils import REPO, set_where, small_crops

RECIPE_DIRS = ('npid', 'cld', 'moco', 'byol', 'smog')
RECIPES = sorted(
    osp.relpath(p, REPO) for d in RECIPE_DIRS
    for p in glob.glob(osp.join(REPO, 'configs', d, '*.py'))
    if '_cifar' in osp.basename(p) or '_stl10' in osp.basename(p))
FAST = sorted(osp.relpath(p, REPO)
              for p in glob.glob(osp.join(REPO, 'configs', 'fast', '*.py')))


def recipe_of(fast: str) -> str:
    name = osp.basename(fast)[:-len('-fast.py')] + '.py'
    found = [r for r in RECIPES if osp.basename(r) == name]
    assert len(found) == 1, (fast, found)
    return found[0]


@functools.lru_cache(maxsize=None)
def _load(path: str) -> dict:
    return Config.fromfile(osp.join(REPO, path)).to_dict()


def load(path: str) -> dict:
    return copy.deepcopy(_load(path))


def multiview(dataset: dict) -> dict:
    """The MultiView step of the (innermost) train pipeline."""
    while 'pipeline' not in dataset:
        dataset = dataset['dataset']
    steps = [t for t in dataset['pipeline'] if t['type'] == 'MultiView']
    assert len(steps) == 1
    return steps[0]


def test_every_cifar_and_stl_recipe_has_a_fast_config():
    assert len(RECIPES) >= 14
    assert sorted(recipe_of(f) for f in FAST) == RECIPES


@pytest.mark.parametrize('fast', FAST)
def test_fast_config_is_its_recipe_but_the_data_loading(fast):
    cpu, new = load(recipe_of(fast)), load(fast)
    assert set(cpu) == set(new)
    for key in set(cpu) - {'model', 'train_dataloader'}:
        assert new[key] == cpu[key], key        # optim, schedule, eval ...
    cpu_pre = cpu['model'].pop('data_preprocessor')
    new_pre = new['model'].pop('data_preprocessor')
    assert new['model'] == cpu['model']         # architecture, losses
    views = multiview(cpu['train_dataloader']['dataset'])
    assert new_pre.pop('type') == 'DeviceMultiViewPreprocessor'
    assert cpu_pre.pop('type') == 'SelfSupDataPreprocessor'
    assert new_pre.pop('view_pipeline') == views['transforms'][0]
    assert len(views['transforms']) == 1
    assert new_pre.pop('num_views') == views['num_views']
    assert new_pre == cpu_pre                   # mean, std, to_rgb
    cpu_loader, new_loader = cpu['train_dataloader'], new['train_dataloader']
    wrapped = new_loader.pop('dataset')
    assert wrapped['type'] == 'InMemoryImages'
    assert wrapped['dataset'] == cpu_loader.pop('dataset')
    for key in ('num_workers', 'persistent_workers'):
        cpu_loader.pop(key, None)
        new_loader.pop(key, None)
    assert new_loader == cpu_loader             # batch size, sampler ...
    # the view pipeline builds on the device
    pre = MODELS.build(dict(type='DeviceMultiViewPreprocessor',
                            view_pipeline=views['transforms'][0],
                            num_views=views['num_views'], seed=0))
    assert pre.num_views == views['num_views']


# --------------------------------------------------------- 2-step Runners
def write_cifar100(root: str, n: int = 20) -> None:
    rng = np.random.default_rng(0)
    folder = osp.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    for name in ('train', 'test'):
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'data': rng.integers(0, 256, (n, 3072), np.uint8),
                         'fine_labels': rng.integers(0, 100, n).tolist()}, f)


def write_stl10(root: str, n: int = 10) -> None:
    rng = np.random.default_rng(1)
    os.makedirs(root, exist_ok=True)
    for part in ('train', 'unlabeled', 'test'):
        rng.integers(0, 256, (n, 3 * 96 * 96), np.uint8).tofile(
            osp.join(root, f'{part}_X.bin'))
    for part in ('train', 'test'):
        rng.integers(1, 11, n).astype(np.uint8).tofile(
            osp.join(root, f'{part}_y.bin'))


RUNS = {  # fast config -> model options shrunk for a batch of 8
    'npid_resnet18_1xb256-coslr-200e_cifar10-fast.py': {},
    'npid-cld_resnet18_1xb256-coslr-200e_cifar10-fast.py':
        dict(num_clusters=4),
    'moco_resnet18_1xb256-coslr-200e_cifar10-fast.py': dict(queue_len=32),
    'moco-cld_resnet18_1xb256-coslr-200e_cifar10-fast.py':
        dict(queue_len=32, num_clusters=4),
    'byol_resnet18_1xb256-coslr-200e_cifar10-fast.py': {},
    'byol-cld_resnet18_1xb256-coslr-200e_cifar10-fast.py':
        dict(num_clusters=4),
    'smog_resnet18_1xb512-coslr-200e_cifar10-fast.py':
        dict(num_groups=4, cache_size=16),
    'npid-cld_resnet18_1xb256-coslr-200e_cifar100-fast.py':
        dict(num_clusters=4),
    'npid-cld_resnet18_1xb256-coslr-200e_stl10-fast.py':
        dict(num_clusters=4),
}


def small_fast_config(name, work_dir, data):
    """20 images, batch 8, 2 iterations; 16 px crops; nothing else."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'fast', name))
    inner = cfg.train_dataloader.dataset.dataset
    while 'dataset' in inner:  # LongTailDataset
        inner = inner.dataset
    if '_cifar100' in name:
        write_cifar100(data)
        inner.data_root = data
    elif '_stl10' in name:
        write_stl10(data)
        inner.data_root = data
    else:
        root, ann = data
        inner.update(data_root=root, ann_file=ann)
    cfg.train_dataloader.dataset.cache_dir = osp.join(work_dir, 'arrays')
    cfg.train_dataloader.update(batch_size=8, num_workers=0,
                                persistent_workers=False)
    small_crops(cfg.model.data_preprocessor.view_pipeline, 16)
    if 'bank_size' in cfg.model:
        cfg.model.bank_size = 20
    for key, value in RUNS[name].items():
        set_where(cfg.model, key, **{key: value})
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
    cfg.param_scheduler = []
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10,
                                        save_last=False)
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo'))
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'
    return cfg


@pytest.mark.parametrize('name', sorted(RUNS))
def test_fast_config_trains_two_iterations(name, tmp_path, cifar_t20):
    data = str(tmp_path / 'data') if ('_cifar100' in name or
                                      '_stl10' in name) else cifar_t20[:2]
    cfg = small_fast_config(name, str(tmp_path), data)
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.backbone.state_dict()
              .items() if v.is_floating_point()}
    runner.train()
    assert runner.iter == 2
    pre = runner.model.data_preprocessor
    assert pre.num_views == multiview(
        load(recipe_of(osp.join('configs', 'fast', name)))
        ['train_dataloader']['dataset'])['num_views']
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    after = runner.model.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert len(runner.train_dataloader.dataset) == 20
