"""Every shipped config trains 2 iterations in a real mmengine Runner.

Each config is loaded as shipped (``Config.fromfile``); only its data and
run length are overridden:

- the data: a few real CIFAR-10 images (the shared JPEGs), written in the
  format of the config's dataset where that dataset is not on this machine
  (CIFAR-10/100 python releases, STL-10 binary files, ImageNet lists and
  class folders); the batch size; and for the 224 px configs the crop size
  (224 -> 32 px, the 96 px multi-crop views -> 16 px). Memory banks are
  left at the configs' sizes (each holds at least the tiny set).
- the run: one epoch of exactly 2 iterations (``drop_last`` as shipped),
  no validation, no checkpoint (except where a checkpoint is produced for
  the evaluation configs), single process, logging every iteration to local
  files only; on a machine without a GPU, mmengine's GPU-only
  ``AmpOptimWrapper`` (the Swin-T recipe) becomes cld_mm's
  ``MixedPrecisionOptimWrapper`` (bfloat16 autocast, same optimizer).

The architecture, necks/heads, losses, optimizer, schedulers, hooks and the
pipeline's operations are the configs' own. Each run asserts finite losses
at both iterations, the logged keys its algorithm promises, finite
gradients, and that every trainable weight received a non-zero gradient and
moved.

The evaluation configs (linear evaluation, semi-supervised fine-tuning)
then train 2 iterations from a cld_mm checkpoint made by a 1-iteration
pre-training run of a shipped config, set through their one checkpoint key
``model.init_cfg.checkpoint``. Detection and segmentation configs are run
by tests/test_transfer_models.py.
"""
import copy
import glob
import math
import os.path as osp
import uuid

import numpy as np
import pytest
import torch
from data_writers import (
    cifar_images,
    upscale,
    write_cifar_python,
    write_list,
    write_stl10_part,
)
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from utils import REPO

CONFIGS = osp.join(REPO, 'configs')
PRETRAIN = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
    if not {'_base_', 'benchmarks', 'fast'} & set(
        osp.relpath(p, REPO).split(osp.sep)))
EVAL = sorted(
    osp.relpath(p, REPO)
    for pattern in ('benchmarks/classification/**/*.py',
                    'benchmarks/semi_supervised/**/*.py',
                    'smog/benchmarks/*.py')
    for p in glob.glob(osp.join(CONFIGS, pattern), recursive=True))

CLD_KEYS = {'loss_instance', 'loss_cld', 'cld_group_acc', 'cld_num_groups'}
# logged keys each algorithm promises (model.type -> keys)
KEYS = {
    'NPID': {'loss'},
    'EvalMoCo': {'loss'},
    'EvalBYOL': {'loss'},
    'NPIDCLD': CLD_KEYS,
    'MoCoCLD': CLD_KEYS,
    'BYOLCLD': CLD_KEYS,
    'SMoG': {'loss_group', 'group_acc', 'beta', 'groups_used'},
}
BATCH = 4


# -- data ------------------------------------------------------------------
@pytest.fixture(scope='session')
def run_data(cifar_slice, tmp_path_factory):
    """Tiny datasets in every format the configs read (real CIFAR images)."""
    root, train_ann, _ = cifar_slice
    out = tmp_path_factory.mktemp('config_data')
    imgs, labels, paths = cifar_images(root, train_ann)  # 80, 8 per class
    data = dict(cifar_root=root, imgs=imgs, labels=labels, paths=paths,
                out=str(out))
    # CIFAR-10 python release: 2 batches of images
    data['cifar10_python'] = str(out / 'cifar10')
    write_cifar_python(data['cifar10_python'], imgs[:2 * BATCH],
                       labels[:2 * BATCH])
    # CIFAR-100: 2 images of each of the 100 classes (the long-tail profile
    # needs every class), the CIFAR-10 images re-used under 100 labels
    c100 = np.arange(200) % len(imgs)
    data['cifar100_python'] = str(out / 'cifar100')
    write_cifar_python(data['cifar100_python'], imgs[c100],
                       np.arange(200) // 2, cifar100=True)
    # STL-10: 4 labelled + 4 unlabelled 96 px images (train+unlabeled)
    data['stl10'] = str(out / 'stl10')
    big = upscale(imgs[:2 * BATCH], 96)
    write_stl10_part(data['stl10'], 'train', big[:BATCH], labels[:BATCH])
    write_stl10_part(data['stl10'], 'unlabeled', big[BATCH:])
    return data


def long_tail_size(per_class, num_classes, ratio=100):
    """Images of a long-tailed subset, n_c = floor(n * ratio^(-c/(C-1)))."""
    return sum(int(per_class * ratio ** (-c / (num_classes - 1)))
               for c in range(num_classes))


def inner_dataset(cfg):
    ds = cfg.train_dataloader.dataset
    while ds.get('type') in ('LongTailDataset', 'InMemoryImages'):
        ds = ds.dataset
    return ds


def set_data(cfg, data, name, size, batch=BATCH):
    """Point the config's training dataset at ``size`` tiny images (or the
    long-tailed subset of a tiny balanced set); returns the batch size."""
    ds = inner_dataset(cfg)
    kind = ds.type
    lt = cfg.train_dataloader.dataset.type == 'LongTailDataset'
    if kind in ('CIFAR10Python', 'STL10'):
        ds.data_root = data['cifar10_python' if kind != 'STL10'
                            else 'stl10']
    elif kind == 'CIFAR100Python':
        if not lt:
            # a release of `size` images
            root = osp.join(data['out'], f'cifar100_{name}')
            idx = np.arange(size) % len(data['imgs'])
            write_cifar_python(root, data['imgs'][idx], np.arange(size),
                               cifar100=True)
        else:
            root = data['cifar100_python']
            batch = long_tail_size(2, 100) // 2
        ds.data_root = root
    else:  # image files through LoadImageFromFile
        if lt:  # CIFAR-10-LT: 5 images per class -> 9 images
            per_class = 5
            rows = [i for c in range(10)
                    for i in np.flatnonzero(data['labels'] == c)[:per_class]]
            batch = long_tail_size(per_class, 10) // 2
        else:
            rows = list(range(size))
        ann = write_list(osp.join(data['out'], f'{name}.txt'),
                         [data['paths'][i] for i in rows],
                         [data['labels'][i] for i in rows])
        ds.data_root, ds.ann_file = data['cifar_root'], ann
        ds.data_prefix = ''
        if 'split' in ds:
            ds.split = ''
    return batch


def small_crops(node, sizes={224: 32, 96: 16}):
    """The 224 px crops to 32 px and the 96 px multi-crop views to 16 px."""
    if isinstance(node, dict):
        for key in ('scale', 'crop_size'):
            if node.get(key) in sizes and node.get('type') in (
                    'RandomResizedCrop', 'CenterCrop', 'RandomCrop'):
                node[key] = sizes[node[key]]
        for value in node.values():
            small_crops(value, sizes)
    elif isinstance(node, (list, tuple)):
        for value in node:
            small_crops(value, sizes)


def is_224(cfg):
    text = str(cfg.train_dataloader.dataset.get('pipeline', ''))
    return "'scale': 224" in text or "'crop_size': 224" in text


def prepare(path, data, work_dir, iters=2, checkpoint=False):
    """The shipped config with only data, batch, crop size and run length
    overridden (see the module docstring)."""
    cfg = Config.fromfile(osp.join(REPO, path))
    name = osp.splitext(osp.basename(path))[0]
    # Swin-T needs its 224 px input (every stage's map >= the 7 px window),
    # so it keeps its crop and gets a batch of 2
    swin = cfg.model.backbone.get('type') == 'SwinTransformer'
    batch = 2 if swin else BATCH
    batch = set_data(cfg, data, name, iters * batch, batch)
    if is_224(cfg) and not swin:
        small_crops(cfg.train_dataloader.dataset)
    cfg.work_dir = work_dir
    if cfg.train_dataloader.dataset.type == 'InMemoryImages':  # the arrays
        cfg.train_dataloader.dataset.cache_dir = osp.join(work_dir, 'arrays')
    cfg.train_dataloader.update(batch_size=batch, num_workers=0,
                                persistent_workers=False)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1,
                         val_interval=10)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    # logs to local files only (a config may add a TensorBoard backend,
    # an optional package; its switch is tested with the config)
    cfg.visualizer = dict(type='UniversalVisualizer',
                          vis_backends=[dict(type='LocalVisBackend')])
    cfg.default_hooks.checkpoint.update(interval=1, save_last=checkpoint)
    if not checkpoint:
        cfg.default_hooks.checkpoint.interval = 100
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo'))
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'
    cfg.launcher = 'none'
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        # mmengine's AmpOptimWrapper asserts a GPU: the same mixed precision
        # on the CPU (cld_mm's wrapper, bfloat16 autocast), same optimizer
        cfg.optim_wrapper.type = 'MixedPrecisionOptimWrapper'
    return cfg


class GradProbe(Hook):
    """Records, from the first iteration, the gradient reaching every
    trainable parameter and the parameters' initial values."""

    priority = 'LOWEST'

    def __init__(self):
        self.grad_sum, self.finite, self.before = {}, {}, {}

    def before_train(self, runner):
        model = runner.model
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            self.before[name] = p.detach().clone()
            self.grad_sum[name], self.finite[name] = 0.0, True

            def record(g, name=name):
                self.grad_sum[name] += float(g.abs().sum())
                self.finite[name] &= bool(torch.isfinite(g).all())
            p.register_hook(record)


RUNNER_KEYS = ('model', 'work_dir', 'train_dataloader', 'val_dataloader',
               'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg',
               'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
               'val_evaluator', 'test_evaluator', 'default_hooks',
               'custom_hooks', 'data_preprocessor', 'load_from', 'resume',
               'launcher', 'env_cfg', 'log_processor', 'log_level',
               'visualizer', 'default_scope', 'randomness')


def runner_of(cfg):
    """``Runner.from_cfg`` without handing the Runner the config text: the
    same arguments, but the Runner does not format the whole config
    (``Config.pretty_text``, seconds per run) to log, dump and embed it.
    None of the configs sets a key the Runner reads from its ``cfg``
    (``compile``, ``sync_bn``, ``model_wrapper_cfg`` ...)."""
    for key in ('compile', 'sync_bn', 'model_wrapper_cfg',
                'find_unused_parameters', 'activation_checkpointing',
                'efficient_conv_bn_eval'):
        assert cfg.get(key) is None, key
    # a name of its own: mmengine names the MessageHub after the experiment
    # and the second the Runner was built, so two runs within one second
    # would share one loss history
    return Runner(experiment_name=f'config_run_{uuid.uuid4().hex[:8]}',
                  **{k: copy.deepcopy(cfg.get(k)) for k in RUNNER_KEYS
                     if cfg.get(k) is not None})


def train(cfg):
    runner = runner_of(cfg)
    probe = GradProbe()
    runner.register_hook(probe)
    runner.train()
    return runner, probe


def check_run(runner, probe, model_type, iters=2):
    assert runner.iter == iters
    hub = runner.message_hub
    for key in KEYS[model_type]:
        values, _ = hub.get_scalar(f'train/{key}').data
        assert len(values) == iters, key
        assert all(math.isfinite(v) for v in values), (key, values)
    assert probe.before, 'no trainable parameter'
    params = dict(runner.model.named_parameters())
    assert all(probe.finite.values())
    # every weight (conv, linear, norm scale) of every trainable part; a
    # bias right before a BatchNorm (e.g. the projection's last BN bias
    # ahead of the predictor's first BN) gets an exactly zero gradient
    weights = [n for n in probe.before if n.endswith('weight')]
    no_grad = [n for n in weights if not probe.grad_sum[n] > 0]
    assert not no_grad, f'no gradient reached {no_grad[:5]}'
    still = [n for n in weights
             if torch.equal(params[n].detach(), probe.before[n])]
    assert not still, f'parameters did not move: {still[:5]}'


@pytest.mark.parametrize('path', PRETRAIN)
def test_pretraining_config_trains(path, run_data, tmp_path):
    cfg = prepare(path, run_data, str(tmp_path))
    model_type = cfg.model.type
    assert model_type in KEYS, f'{path}: unknown algorithm {model_type}'
    runner, probe = train(cfg)
    check_run(runner, probe, model_type)
    if model_type in ('NPID', 'NPIDCLD'):
        # the bank rows of the 2 x batch images trained on are unit vectors
        # now (the rows start uniform, with norms 1 +- 0.04)
        n = len(runner.train_dataloader.dataset)
        norms = runner.model.memory_bank[:n].norm(dim=1)
        unit = int(((norms - 1).abs() < 1e-5).sum())
        assert unit == 2 * cfg.train_dataloader.batch_size, norms


def test_configs_found():
    assert 'configs/cld/mocov2_cld_r50.py' in PRETRAIN
    assert any('mcrop' in p for p in PRETRAIN)
    assert any('swin' in p for p in PRETRAIN)
    assert len(PRETRAIN) >= 35 and len(EVAL) == 9


# -- evaluation configs from a cld_mm checkpoint ----------------------------
PRETRAINED_FOR = {  # evaluation backbone -> the pre-training config
    'cifar': 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py',
    'resnet50': 'configs/cld/mocov2_cld_r50.py',
    'swin': 'configs/smog/smog_swin-tiny_16xb128-adamw-coslr-400e_in1k.py',
}


def calibrate_norms(runner):
    """BatchNorm running statistics of the backbone set to those of the
    training images (cumulative average over one pass), as a real
    pre-training leaves them: after one iteration they are still ~(0, 1)
    and a frozen ResNet-50 in eval mode then gives exploding features."""
    model = runner.model
    norms = [m for m in model.backbone.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for batch in runner.train_dataloader:
            for view in model.data_preprocessor(batch, True)['inputs']:
                model.backbone(view)
    for m in norms:
        m.momentum = 0.1


@pytest.fixture(scope='session')
def pretrained(run_data, tmp_path_factory):
    """A memoised 1-iteration pre-training run per backbone; returns its
    checkpoint (a raw cld_mm checkpoint with backbone.* keys)."""
    done = {}

    def make(kind):
        if kind not in done:
            work = str(tmp_path_factory.mktemp(f'pretrain_{kind}'))
            cfg = prepare(PRETRAINED_FOR[kind], run_data, work, iters=1,
                          checkpoint=False)
            runner = runner_of(cfg)
            runner.train()
            calibrate_norms(runner)
            runner.save_checkpoint(work, 'pretrained.pth')
            done[kind] = osp.join(work, 'pretrained.pth')
        return done[kind]
    return make


def eval_kind(path):
    if '/cifar/' in path:
        return 'cifar'
    return 'swin' if 'swin' in path else 'resnet50'


@pytest.mark.parametrize('path', EVAL)
def test_evaluation_config_trains(path, run_data, pretrained, tmp_path):
    ckpt = pretrained(eval_kind(path))
    cfg = prepare(path, run_data, str(tmp_path))
    cfg.merge_from_dict({'model.init_cfg.checkpoint': ckpt})
    text = str(cfg.to_dict())
    assert text.count(ckpt) == 1 and "'Pretrained'" not in text
    runner = runner_of(cfg)
    probe = GradProbe()
    runner.register_hook(probe)
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    runner.train()
    model = runner.model
    assert runner.iter == 2
    values, _ = runner.message_hub.get_scalar('train/loss').data
    assert len(values) == 2 and all(math.isfinite(v) for v in values)
    frozen = 'linear' in path
    # the backbone came from the checkpoint (exactly, where it is frozen)
    ref = {k[len('backbone.'):]: v for k, v in state['state_dict'].items()
           if k.startswith('backbone.')}
    mine = model.backbone.state_dict()
    assert set(ref) <= set(mine) and len(ref) > 10
    for k, v in ref.items():
        if frozen:
            assert torch.equal(mine[k], v), k
    head = [n for n in probe.before if n.startswith('head.')]
    assert head and all(probe.grad_sum[n] > 0 for n in head)
    # (Swin freezes its stages in train(), after the probe's before_train)
    trainable_backbone = [n for n, p in model.named_parameters()
                          if n.startswith('backbone.') and p.requires_grad]
    if frozen:
        assert not trainable_backbone
    else:  # fine-tuned end to end
        assert trainable_backbone
        assert all(probe.grad_sum[n] > 0 for n in trainable_backbone)
