"""Exact resume: 2 epochs == 1 epoch + resume + 1 epoch, bit for bit.

Real mmengine Runners on a 20-image CIFAR-10 slice (16 px views, batch 8,
2 iterations per epoch), ``randomness=dict(seed=7, deterministic=True)``,
``num_workers=0``. Compared between the uninterrupted run and the resumed one
at the end: every parameter and buffer (NPID memory bank, MoCo queue and
pointer, momentum encoder), the optimizer state (SGD momentum buffers), the
LR schedulers' position and every RNG state. What makes this hold:
``DefaultSampler`` shuffles with ``seed + epoch`` (``DistSamplerSeedHook``),
and :class:`cld_mm.engine.hooks.RNGStateHook` restores the numpy / Python /
torch generators that drive the augmentations (mmengine alone re-seeds a
resumed run from the start, which replays epoch 1's augmentations) and keeps
kNN validation from advancing them.
"""
import glob
import itertools
import json
import os.path as osp
import shutil

import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from conftest import write_subset
from utils import REPO, tiny_config  # noqa: F401

CASES = {  # name -> (real config, model overrides for a batch of 8)
    'NPID': ('configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py', {}),
    'EvalMoCo': ('configs/moco/moco_resnet18_1xb256-coslr-200e_cifar10.py',
                 dict(queue_len=32)),
    'MoCoCLD': ('configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py',
                dict(queue_len=32, cld_head=dict(num_clusters=4))),
}
RUN_IDS = itertools.count()
STATE = {'NPID': ['memory_bank'], 'EvalMoCo': ['queue', 'queue_ptr'],
         'MoCoCLD': ['queue', 'queue_ptr']}


def _cases():
    return [n for n, (path, _) in CASES.items()
            if osp.exists(osp.join(REPO, path)) and n in MODELS.module_dict]


def _small_crops(pipeline):
    """Every RandomResizedCrop of a (nested) pipeline to 16 px."""
    for t in pipeline:
        if isinstance(t, (list, tuple)):
            _small_crops(t)
        elif isinstance(t, dict):
            if t.get('type') == 'RandomResizedCrop':
                t['scale'] = 16
            _small_crops(t.get('transforms', []))


def _config(work_dir, cifar_slice, name, max_epochs, validate):
    root, _, test_ann = cifar_slice
    train_ann = write_subset(root, 'train', 2, 'train_t20')
    path, overrides = CASES[name]
    cfg = tiny_config(path, work_dir, root, train_ann,
                      test_ann if validate else None, batch_size=8,
                      max_iters=5)
    cfg.merge_from_dict({f'model.{k}': v for k, v in overrides.items()})
    assert cfg.train_cfg.max_epochs == 2  # 20 images / 8 = 2 iters per epoch
    _small_crops(cfg.train_dataloader.dataset.pipeline)
    cfg.train_cfg.update(max_epochs=max_epochs, val_interval=1)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1,
        backend_args=dict(backend='atomic_local'))
    cfg.randomness = dict(seed=7, deterministic=True)
    # a name of its own: runners of one config built within the same second
    # (same timestamp) would share a MessageHub and a Visualizer
    cfg.experiment_name = f'{name}_{next(RUN_IDS)}'
    # plain lists: mmengine serialises a dataset for worker processes with a
    # full gc.collect() (~0.5 s in a test process); num_workers is 0 here
    cfg.train_dataloader.dataset.serialize_data = False
    if validate:
        for part in ('memory', 'query'):
            cfg.val_dataloader.dataset[part].serialize_data = False
    return cfg


def _assert_same(a, b, path='checkpoint'):
    """Recursive bit-identical comparison of checkpoint contents."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_same(a[k], b[k], f'{path}[{k!r}]')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f'{path}[{i}]')
    elif hasattr(a, 'shape'):  # numpy arrays
        assert (a == b).all(), path
    else:
        assert a == b, path


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def _to_legacy_layout(path):
    """Rewrite a CLD checkpoint with the key names written before the
    group_neck / cld_head split (``cld.group_neck.*``): the MoCo+CLD case
    then also proves that such a checkpoint resumes exactly."""
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    state = ckpt['state_dict']
    keys = [k for k in state if k.startswith('group_neck.')]
    assert keys
    for k in keys:
        state['cld.' + k] = state.pop(k)
    torch.save(ckpt, path)


@pytest.fixture(scope='module')
def npid_full(cifar_slice, tmp_path_factory):
    """The uninterrupted NPID run: 2 epochs, kNN after each (read only).
    ResumeValidationHook leaves fresh runs alone, so this run stands for the
    runs with and without it."""
    full = str(tmp_path_factory.mktemp('npid_full'))
    Runner.from_cfg(_config(full, cifar_slice, 'NPID', 2, True)).train()
    return full


@pytest.fixture(scope='module')
def npid_half_unvalidated(cifar_slice, tmp_path_factory):
    """NPID stopped after epoch 1, trained without validation (copy it with
    :func:`_copy_run` before resuming it)."""
    half = str(tmp_path_factory.mktemp('npid_half_unvalidated'))
    Runner.from_cfg(_config(half, cifar_slice, 'NPID', 1, False)).train()
    return half


def _copy_run(src, dst):
    """A work dir copied, its ``last_checkpoint`` pointing into the copy."""
    shutil.copytree(src, dst)
    with open(osp.join(dst, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert osp.dirname(last) == src, last
    with open(osp.join(dst, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(dst, osp.basename(last)))
    return dst


@pytest.mark.parametrize('name', _cases())
def test_resume_is_bit_identical(tmp_path, cifar_slice, name, request):
    validate = name == 'NPID'  # kNN validation between the epochs, once
    if name == 'NPID':
        full = request.getfixturevalue('npid_full')
    else:
        full = str(tmp_path / 'full')
        Runner.from_cfg(_config(full, cifar_slice, name, 2, validate)).train()
    half = str(tmp_path / 'half')
    Runner.from_cfg(_config(half, cifar_slice, name, 1, validate)).train()
    first = _load(osp.join(half, 'epoch_1.pth'))
    assert first['meta']['iter'] == 2 and first['meta']['algorithm'] == name
    if name == 'MoCoCLD':
        _to_legacy_layout(osp.join(half, 'epoch_1.pth'))
    resumed = _config(half, cifar_slice, name, 2, validate)
    resumed.resume = True  # latest checkpoint of the work dir: epoch_1.pth
    Runner.from_cfg(resumed).train()

    a = _load(osp.join(full, 'epoch_2.pth'))
    b = _load(osp.join(half, 'epoch_2.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    for key in ('state_dict', 'optimizer', 'param_schedulers', 'rng_states'):
        _assert_same(a[key], b[key], key)
    # training did move the state: epoch 2 differs from epoch 1
    assert not torch.equal(a['state_dict']['backbone.conv1.weight'],
                           first['state_dict']['backbone.conv1.weight'])
    for buf in STATE[name]:
        assert not torch.equal(a['state_dict'][buf], first['state_dict'][buf])
    assert b['param_schedulers'][0]['last_step'] > \
        first['param_schedulers'][0]['last_step']
    assert a['optimizer']['state'], 'SGD momentum buffers were saved'


def test_plain_reseed_would_not_replay(tmp_path, cifar_slice):
    """Without RNGStateHook the resumed run re-seeds and diverges: the hook is
    what makes the test above pass (guards against a vacuous comparison)."""
    full = str(tmp_path / 'full')
    cfg = _config(full, cifar_slice, 'NPID', 2, False)
    cfg.default_hooks.pop('rng_state')
    Runner.from_cfg(cfg).train()
    half = str(tmp_path / 'half')
    cfg = _config(half, cifar_slice, 'NPID', 1, False)
    cfg.default_hooks.pop('rng_state')
    Runner.from_cfg(cfg).train()
    cfg = _config(half, cifar_slice, 'NPID', 2, False)
    cfg.default_hooks.pop('rng_state')
    cfg.resume = True
    Runner.from_cfg(cfg).train()
    a = _load(osp.join(full, 'epoch_2.pth'))['state_dict']
    b = _load(osp.join(half, 'epoch_2.pth'))['state_dict']
    assert not torch.equal(a['memory_bank'], b['memory_bank'])


def _knn_by_epoch(work_dir):
    """{epoch: kNN top-1} over every run (timestamp folder) of a work dir."""
    out = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for rec in map(json.loads, filter(str.strip, f)):
                if 'knn/top1' in rec:
                    out.setdefault(rec['step'], []).append(rec['knn/top1'])
    return out


@pytest.mark.parametrize('hook', [True, False])
def test_resume_validates_the_epoch_its_checkpoint_preceded(
        tmp_path, cifar_slice, npid_full, npid_half_unvalidated, hook):
    """A run stopped after writing epoch_1.pth but before validating epoch 1
    (here: trained without validation) gets epoch 1's kNN on resume, equal
    to the uninterrupted run's; without ResumeValidationHook it never does.
    """
    def cfg(work, epochs, validate):
        c = _config(work, cifar_slice, 'NPID', epochs, validate)
        if not hook:
            c.default_hooks.pop('resume_validation')
        return c

    # the uninterrupted run and the one stopped before validating epoch 1
    # are fresh runs, which the hook leaves alone: shared by both cases
    full = npid_full
    half = _copy_run(npid_half_unvalidated, str(tmp_path / 'half'))
    assert _knn_by_epoch(half) == {}
    resumed = cfg(half, 2, True)
    resumed.resume = True
    Runner.from_cfg(resumed).train()
    full_knn, half_knn = _knn_by_epoch(full), _knn_by_epoch(half)
    assert sorted(full_knn) == [1, 2]
    if hook:
        assert half_knn == full_knn  # the same values at the same epochs
        # validating before training on did not change the training
        _assert_same(_load(osp.join(full, 'epoch_2.pth'))['state_dict'],
                     _load(osp.join(half, 'epoch_2.pth'))['state_dict'])
    else:
        assert sorted(half_knn) == [2]


def test_missed_validation_rule():
    from cld_mm.engine.hooks.resume_validation import missed_validation
    # (epoch, iter, iters/epoch, val_begin, val_interval, max_epochs)
    assert missed_validation(3, 30, 10, 1, 1, 10)
    assert not missed_validation(0, 0, 10, 1, 1, 10)  # fresh run
    assert not missed_validation(3, 35, 10, 1, 1, 10)  # mid-epoch checkpoint
    assert not missed_validation(3, 30, 10, 1, 2, 10)  # epoch 3 not validated
    assert missed_validation(4, 40, 10, 1, 2, 10)
    assert missed_validation(5, 50, 10, 1, 2, 5)  # the last epoch always is
    assert not missed_validation(2, 20, 10, 3, 1, 10)  # before val_begin
