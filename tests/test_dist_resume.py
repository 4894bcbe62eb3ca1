"""Distributed exact resume: 2 ranks, 2 iterations + resume + 2 == 4.

Real mmengine Runners on 2 gloo processes (DDP), 20 images, 4 per rank (2
iterations per epoch), with each shipped config's random augmentation at
16 px and the default runtime's ``diff_rank_seed=True`` (each rank draws its
own crops). For NPID+CLD (memory bank), MoCo+CLD (queue, pointer, momentum
encoder) and SMoG (groups, feature cache, re-clustering every 3 iterations:
once after the resume), an uninterrupted 2-epoch run and a 1-epoch run
resumed for a second epoch end with bit-identical checkpoints: every
parameter and buffer, the optimizer state, the LR schedulers and both
ranks' RNG states (Python, numpy, torch), which
:class:`cld_mm.engine.hooks.RNGStateHook` saves per rank and restores per
rank.
"""
import os.path as osp

import pytest
import tiny_models as tm
import torch
from mmengine.runner import Runner
from tiny_smog import RUNNER_CONFIG, smog_cfg

from cld_mm.engine.dist_env import cpu_model_wrapper_cfg

from dist_utils import run_gloo
from utils import t20_config

CONFIGS = {
    'NPIDCLD': 'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py',
    'MoCoCLD': 'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py',
    'SMoG': RUNNER_CONFIG,
}
STATE = {'NPIDCLD': ['memory_bank'], 'MoCoCLD': ['queue'],
         'SMoG': ['groups', 'feature_cache']}


def _model(name):
    group = tm.linear_neck(8)
    if name == 'NPIDCLD':
        return tm.with_cld(tm.npid(bank_size=20, feat_dim=8,
                                   temperature=0.1),
                           'NPIDCLD', group, 3, 0.2, 1.0)
    if name == 'MoCoCLD':
        return tm.with_cld(tm.moco(tm.linear_neck(8), queue_len=16,
                                   feat_dim=8, momentum=0.01,
                                   temperature=0.2),
                           'MoCoCLD', group, 3, 0.2, 0.8)
    return smog_cfg(total_iters=4, cache_size=16)


def _run(cifar_t20, work_dir, name, epochs, resume=False):
    cfg = t20_config(cifar_t20, work_dir, config=CONFIGS[name], max_iters=5)
    cfg.model = dict(_model(name),
                     data_preprocessor=cfg.model.data_preprocessor)
    cfg.train_dataloader.batch_size = 4  # per rank
    cfg.train_cfg.update(max_epochs=epochs)
    # the schedule of the 2-epoch run in both (a resumed run continues it)
    cfg.param_scheduler[0].update(T_max=2, end=2)
    cfg.default_hooks.checkpoint.update(interval=1)
    if name == 'SMoG':
        cfg.custom_hooks = [dict(type='SMoGReclusterHook', interval=3)]
    cfg.launcher = 'pytorch'
    cpu_model_wrapper_cfg(cfg)
    cfg.randomness = dict(seed=3, diff_rank_seed=True)
    cfg.resume = resume
    cfg.experiment_name = f'{name}_{osp.basename(work_dir)}_{epochs}'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.iter


def _worker(rank, world_size, cifar_t20, work_dir):
    import cld_mm  # noqa: F401
    iters = {}
    for name in CONFIGS:
        full, half = (osp.join(work_dir, name, k) for k in ('full', 'half'))
        iters[name] = (_run(cifar_t20, full, name, 2),
                       _run(cifar_t20, half, name, 1),
                       _run(cifar_t20, half, name, 2, resume=True))
    return iters


@pytest.fixture(scope='module')
def runs(cifar_t20, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('dist_resume'))
    return work, run_gloo(_worker, 2, args=(cifar_t20, work))


def _assert_same(a, b, path):
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


def _load(work, name, part, epoch):
    return torch.load(osp.join(work, name, part, f'epoch_{epoch}.pth'),
                      map_location='cpu', weights_only=False)


@pytest.mark.parametrize('name', list(CONFIGS))
def test_two_rank_resume_is_bit_identical(runs, name):
    work, ranks = runs
    for iters in ranks:  # both ranks: 4, then 2, then 2 more
        assert iters[name] == (4, 2, 4)
    full, resumed = _load(work, name, 'full', 2), _load(work, name, 'half', 2)
    first = _load(work, name, 'half', 1)
    assert full['meta']['world_size'] == 2 and full['meta']['iter'] == 4
    assert first['meta']['iter'] == 2
    for key in ('state_dict', 'optimizer', 'param_schedulers', 'rng_states'):
        _assert_same(full[key], resumed[key], key)
    # both ranks' generators were saved, and they differ (diff_rank_seed)
    rng = full['rng_states']
    assert len(rng) == 2 and not torch.equal(rng[0]['torch'],
                                             rng[1]['torch'])
    # the second epoch changed the state the resume had to carry over
    for buf in STATE[name]:
        assert not torch.equal(full['state_dict'][buf],
                               first['state_dict'][buf]), buf
    if name == 'SMoG':  # re-clustered after iteration 3, i.e. after resume
        assert int(first['state_dict']['num_reclusters']) == 0
        assert int(full['state_dict']['num_reclusters']) == 1
