"""configs/fast: each CPU recipe with the fast data path and nothing else.

Every fast config (and the fast twin of the equivalence measurement)
resolves to its recipe's dict except the data loading (the train dataset
wrapped in ``InMemoryImages``, the data preprocessor becoming
``DeviceMultiViewPreprocessor`` with the recipe's own view pipeline and view
count); a real Runner trains every config of configs/fast/ and of
configs/fast/equivalence/ for 2 iterations at batch 8 with 16 px crops, on
a few images (the shared CIFAR-10 JPEGs; synthetic CIFAR-10/100 python and
STL-10 binary releases written here), with the options sized by the data
(memory bank, queue, cluster and group counts, SMoG cache) shrunk to fit.
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

from utils import REPO, shrink_options, small_crops

RECIPE_DIRS = ('npid', 'cld', 'moco', 'byol', 'smog')
RECIPES = sorted(
    osp.relpath(p, REPO) for d in RECIPE_DIRS
    for p in glob.glob(osp.join(REPO, 'configs', d, '*.py'))
    if '_cifar' in osp.basename(p) or '_stl10' in osp.basename(p))
FAST = sorted(osp.relpath(p, REPO)
              for p in glob.glob(osp.join(REPO, 'configs', 'fast', '*.py')))
# the fast-path equivalence measurement: a CPU run and its fast twin
EQUIVALENCE_DIR = osp.join('configs', 'fast', 'equivalence')
EQUIVALENCE = sorted(osp.relpath(p, REPO) for p in
                     glob.glob(osp.join(REPO, EQUIVALENCE_DIR, '*.py')))


def recipe_of(fast: str) -> str:
    """The CPU config a fast config inherits (an equivalence twin's sits
    beside it)."""
    name = osp.basename(fast)[:-len('-fast.py')] + '.py'
    if osp.dirname(fast) == EQUIVALENCE_DIR:
        assert osp.exists(osp.join(REPO, EQUIVALENCE_DIR, name)), fast
        return osp.join(EQUIVALENCE_DIR, name)
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


def test_the_equivalence_measurement_is_a_cpu_run_and_its_fast_twin():
    assert len(EQUIVALENCE) == 2
    fast = [c for c in EQUIVALENCE if c.endswith('-fast.py')]
    assert len(fast) == 1 and recipe_of(fast[0]) in EQUIVALENCE


@pytest.mark.parametrize(
    'fast', FAST + [c for c in EQUIVALENCE if c.endswith('-fast.py')])
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
def write_cifar10(root: str, n: int = 20) -> None:
    """A tiny CIFAR-10 python release: ``n`` train images over the five
    ``data_batch_*`` files (labels 0-9 in turn) and ``n`` test images."""
    rng = np.random.default_rng(2)
    folder = osp.join(root, 'cifar-10-batches-py')
    os.makedirs(folder, exist_ok=True)
    labels = np.arange(n) % 10
    for i, part in enumerate(np.array_split(np.arange(n), 5)):
        with open(osp.join(folder, f'data_batch_{i + 1}'), 'wb') as f:
            pickle.dump({'data': rng.integers(0, 256, (len(part), 3072),
                                              np.uint8),
                         'labels': labels[part].tolist()}, f)
    with open(osp.join(folder, 'test_batch'), 'wb') as f:
        pickle.dump({'data': rng.integers(0, 256, (n, 3072), np.uint8),
                     'labels': labels.tolist()}, f)


def write_cifar100(root: str, n: int = 20, per_class: int = 0) -> None:
    """A tiny CIFAR-100 python release: ``n`` random-label images per split,
    or, with ``per_class``, that many of each of the 100 classes."""
    rng = np.random.default_rng(0)
    folder = osp.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    if per_class:
        n = 100 * per_class
    for name in ('train', 'test'):
        labels = (np.arange(n) % 100 if per_class
                  else rng.integers(0, 100, n))
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'data': rng.integers(0, 256, (n, 3072), np.uint8),
                         'fine_labels': labels.tolist()}, f)


def write_stl10(root: str, n: int = 10) -> None:
    rng = np.random.default_rng(1)
    os.makedirs(root, exist_ok=True)
    for part in ('train', 'unlabeled', 'test'):
        rng.integers(0, 256, (n, 3 * 96 * 96), np.uint8).tofile(
            osp.join(root, f'{part}_X.bin'))
    for part in ('train', 'test'):
        rng.integers(1, 11, n).astype(np.uint8).tofile(
            osp.join(root, f'{part}_y.bin'))


def long_tail_size(per_class: int, num_classes: int, ratio: float) -> int:
    """Images of a balanced set (``per_class`` each) kept by an exponential
    profile from ``per_class`` (class 0) down to ``per_class / ratio``."""
    return sum(math.floor(per_class * ratio ** (-c / (num_classes - 1)))
               for c in range(num_classes))


# model options sized by the full data and batch, capped to fit a batch of
# 8 (wherever a config nests them); memory banks take the data's size
SHRINK = dict(num_clusters=4, queue_len=32, num_groups=4, cache_size=16)
RUN_CONFIGS = FAST + EQUIVALENCE
BATCH = 8


def wrappers(dataset: dict) -> list:
    """The train dataset and every dataset it wraps, outermost first."""
    chain = [dataset]
    while 'dataset' in chain[-1]:
        chain.append(chain[-1]['dataset'])
    return chain


def small_run_config(path: str, work_dir: str, cifar_slice: tuple,
                     cifar_t20: tuple) -> tuple:
    """``path`` trained for 2 iterations at batch 8 with 16 px crops on a
    few images; returns (config, number of training images).

    Only the data (a 20-image CIFAR-10 slice, or synthetic releases of 20
    images; per class 8 / 3 images for the long-tailed sets, so that their
    profile keeps at least two batches), the batch, the crop size and the
    options sized by them (:data:`SHRINK`, the memory bank) change.
    """
    cfg = Config.fromfile(osp.join(REPO, path))
    chain = wrappers(cfg.train_dataloader.dataset)
    inner, long_tail = chain[-1], [d for d in chain
                                   if d.type == 'LongTailDataset']
    data = osp.join(work_dir, 'data')
    per_class = classes = 0   # of the balanced sets (for long tails)
    if inner.type == 'CustomDataset':      # CIFAR-10 JPEGs: 2 or 8 a class
        root, ann = (cifar_slice if long_tail else cifar_t20)[:2]
        inner.update(data_root=root, ann_file=ann)
        per_class, classes = (8 if long_tail else 2), 10
    elif inner.type == 'CIFAR100Python':   # 20 images or 3 a class
        per_class, classes = (3 if long_tail else 0), 100
        write_cifar100(data, per_class=per_class)
        inner.data_root = data
    elif inner.type == 'CIFAR10Python':    # 20 images
        write_cifar10(data)
        inner.data_root = data
    elif inner.type == 'STL10':            # 10 train + 10 unlabeled
        write_stl10(data)
        inner.data_root = data
    else:
        raise AssertionError(f'{path}: no tiny data for {inner.type}')
    n_train = 20
    for wrapper in long_tail:
        assert per_class, f'{path}: no balanced tiny data for {inner.type}'
        n_train = long_tail_size(per_class, classes,
                                 wrapper.get('imbalance_ratio', 100))
    assert n_train >= 2 * BATCH, (path, n_train)
    if chain[0].type == 'InMemoryImages':
        chain[0].cache_dir = osp.join(work_dir, 'arrays')
    cfg.train_dataloader.update(batch_size=BATCH, num_workers=0,
                                persistent_workers=False)
    small_crops(cfg.model.data_preprocessor.get('view_pipeline', []), 16)
    small_crops(inner.get('pipeline', []), 16)
    shrink_options(cfg.model, **SHRINK)
    if 'bank_size' in cfg.model:
        cfg.model.bank_size = n_train
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
    return cfg, n_train


def test_the_run_shrink_caps_every_nested_size_option():
    cfg = load(recipe_of(
        'configs/fast/moco-cld_resnet18_1xb256-coslr-200e_cifar10-fast.py'))
    model = cfg['model']
    model['extra'] = [dict(num_clusters=3), dict(num_groups=300)]
    assert shrink_options(model, **SHRINK) == dict(
        queue_len=1, num_clusters=1, num_groups=1)
    assert model['queue_len'] == 32
    assert model['cld_head']['num_clusters'] == 4
    assert model['extra'] == [dict(num_clusters=3), dict(num_groups=4)]


@pytest.mark.parametrize('path', RUN_CONFIGS, ids=osp.basename)
def test_config_trains_two_iterations(path, tmp_path, cifar_slice,
                                      cifar_t20):
    cfg, n_train = small_run_config(path, str(tmp_path), cifar_slice,
                                    cifar_t20)
    runner = Runner.from_cfg(cfg)
    views = []   # what the algorithm gets: (views, view shape) per batch
    runner.model.data_preprocessor.register_forward_hook(
        lambda mod, args, out: views.append(
            (len(out['inputs']), {tuple(v.shape) for v in out['inputs']})))
    before = {k: v.clone() for k, v in runner.model.backbone.state_dict()
              .items() if v.is_floating_point()}
    runner.train()
    assert runner.iter == 2
    num_views = multiview(load(recipe_of(path) if path.endswith('-fast.py')
                               else path)['train_dataloader']['dataset']
                          )['num_views']
    if path.endswith('-fast.py'):
        assert runner.model.data_preprocessor.num_views == num_views
    assert views == [(num_views, {(BATCH, 3, 16, 16)})] * 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    after = runner.model.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert len(runner.train_dataloader.dataset) == n_train
    if 'bank_size' in cfg.model:
        assert runner.model.bank_size == n_train
