"""2 gloo processes in real Runners == 1 process over the same global batch.

NPID+CLD and MoCo+CLD each train 2 iterations in an mmengine ``Runner`` on
2 real gloo processes (4 images per rank, DDP) and in one process (8
images), from the shipped CIFAR-10 configs with the tiny network of
``tests/tiny_models.py`` and augmentation-free views (so both runs see
identical pixels). The single-process run reads the images in the order of
the ranks' concatenated batches (rank 0's 4, then rank 1's), so even
order-dependent steps (k-means' first-K init, MoCo's enqueue) are
comparable. ``randomness`` is the default runtime's ``diff_rank_seed=True``:
the ranks build different random weights, banks and queues, which the Runner
makes equal before the first step (its weight initialisation broadcasts rank
0's parameters and buffers; NPID also broadcasts its bank at its first step
when used without a Runner).

What must match (GroupNorm backbone, ``global_clustering=True``): every
logged loss term (the mean over ranks of the per-rank values, the batches
being equal halves), every gradient after DDP's averaging (read in the
optimizer's step), the memory bank / MoCo queue and pointer / momentum
encoder after each iteration, on both ranks.

What differs, asserted to differ:

* ``global_clustering=False`` (the authors' per-GPU k-means): each rank
  clusters its own 4 rows, the single process the 8 rows together, so
  ``loss_cld`` and the gradients differ from the first iteration on, while
  the instance loss and the bank/queue of the first iteration (computed
  from still-identical weights) match.
* BatchNorm in training mode: each rank normalises with the statistics of
  its own 4 images, so the losses and gradients differ; the first BN's
  running mean after one step averages to the single process's exactly
  (the mean of two equal halves' means), its running variance does not.
  SyncBN (the multi-GPU configs) would make the two equal.
"""
import os.path as osp

import pytest
import tiny_models as tm
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from cld_mm.engine.dist_env import cpu_model_wrapper_cfg

from dist_utils import run_gloo
from utils import deterministic_views, set_where, t20_config

CONFIGS = {
    'NPIDCLD': 'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py',
    'MoCoCLD': 'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py',
}
STATE = {'NPIDCLD': ('memory_bank', ),
         'MoCoCLD': ('queue', 'queue_ptr')}
GN = dict(type='GN', num_groups=4)
BN = dict(type='BN')
# (algorithm, backbone norm, global clustering)
RUNS = [('NPIDCLD', 'gn', True), ('NPIDCLD', 'gn', False),
        ('MoCoCLD', 'gn', True), ('MoCoCLD', 'gn', False),
        ('NPIDCLD', 'bn', True)]
LOCAL, ITERS, K = 4, 2, 3


def _model(name, norm, global_clustering):
    group = tm.linear_neck(8)
    if name == 'NPIDCLD':
        model = tm.with_cld(tm.npid(bank_size=20, feat_dim=8,
                                    temperature=0.1),
                            'NPIDCLD', group, K, 0.2, 1.0)
    else:
        model = tm.with_cld(tm.moco(tm.linear_neck(8), queue_len=16,
                                    feat_dim=8, momentum=0.01,
                                    temperature=0.2),
                            'MoCoCLD', group, K, 0.2, 0.8)
    set_where(model, 'num_clusters', global_clustering=global_clustering)
    model['backbone']['norm_cfg'] = dict(gn=GN, bn=BN)[norm]
    return model


@DATA_SAMPLERS.register_module(force=True)
class RankOrderSampler(Sampler):
    """The dataset indices the ranks of a ``world_size``-process
    ``DefaultSampler(shuffle=False)`` take, batch by batch, rank 0's first:
    one process then sees each global batch in the order of the ranks'
    concatenation."""

    def __init__(self, dataset, batch_size: int, world_size: int,
                 seed=None) -> None:
        n = len(dataset) // world_size
        per_rank = [list(range(len(dataset)))[r::world_size][:n]
                    for r in range(world_size)]
        self.order = [i for b in range(0, n - batch_size + 1, batch_size)
                      for part in per_rank for i in part[b:b + batch_size]]

    def __iter__(self):
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


class Recorder(Hook):
    """Losses, averaged gradients (at the optimizer step) and the state
    after each iteration."""

    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        self.model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        self.losses, self.grads, self.states = [], [], []
        self.init = {k: v.clone() for k, v in self.model.state_dict().items()}
        runner.optim_wrapper.optimizer.register_step_pre_hook(self._grads)

    def _grads(self, optimizer, args, kwargs) -> None:
        self.grads.append({n: p.grad.clone()
                           for n, p in self.model.named_parameters()
                           if p.grad is not None})

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses.append({k: float(v) for k, v in outputs.items()})
        self.states.append({k: v.clone()
                            for k, v in self.model.state_dict().items()})


def _run(cifar_t20, work_dir, run, world_size):
    name, norm, global_clustering = run
    cfg = t20_config(cifar_t20, work_dir, config=CONFIGS[name])
    cfg.model = dict(_model(name, norm, global_clustering),
                     data_preprocessor=cfg.model.data_preprocessor)
    deterministic_views(cfg, size=tm.IMG)
    loader = cfg.train_dataloader
    loader.batch_size = LOCAL * 2 // world_size
    if world_size > 1:
        loader.sampler = dict(type='DefaultSampler', shuffle=False)
        cfg.launcher = 'pytorch'
        cpu_model_wrapper_cfg(cfg)
    else:
        loader.sampler = dict(type='RankOrderSampler', batch_size=LOCAL,
                              world_size=2)
    cfg.randomness = dict(seed=0, diff_rank_seed=True)
    cfg.default_hooks.checkpoint = None
    cfg.experiment_name = f'{name}_{norm}_{global_clustering}_{world_size}'
    runner = Runner.from_cfg(cfg)
    recorder = Recorder()
    runner.register_hook(recorder)
    runner.train()
    assert runner.iter == ITERS
    return dict(losses=recorder.losses, grads=recorder.grads,
                states=recorder.states, init=recorder.init)


def _worker(rank, world_size, cifar_t20, work_dir):
    import cld_mm  # noqa: F401
    return {run: _run(cifar_t20, osp.join(work_dir, '_'.join(map(str, run))),
                      run, world_size) for run in RUNS}


@pytest.fixture(scope='module')
def two_ranks(cifar_t20, tmp_path_factory):
    return run_gloo(_worker, 2, args=(cifar_t20,
                                      str(tmp_path_factory.mktemp('ddp'))))


@pytest.fixture(scope='module')
def one_process(cifar_t20, tmp_path_factory):
    work = tmp_path_factory.mktemp('single')
    return {run: _run(cifar_t20, str(work / '_'.join(map(str, run))), run, 1)
            for run in RUNS}


def _close(a, b, what):
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=what)


def _mean_loss(r0, r1, step, key):
    return (r0['losses'][step][key] + r1['losses'][step][key]) / 2


def _ranks_agree(r0, r1):
    """DDP: equal gradients and equal state on both ranks, every step."""
    for step in range(ITERS):
        for key, g in r0['grads'][step].items():
            assert torch.equal(g, r1['grads'][step][key]), (step, key)
        for key, v in r0['states'][step].items():
            if 'running_' in key or 'num_batches' in key:
                continue  # BN statistics are per rank (see the BN test)
            assert torch.equal(v, r1['states'][step][key]), (step, key)


@pytest.mark.parametrize('name', ['NPIDCLD', 'MoCoCLD'])
def test_global_clustering_two_ranks_equal_one_process(name, two_ranks,
                                                       one_process):
    run = (name, 'gn', True)
    r0, r1 = (r[run] for r in two_ranks)
    single = one_process[run]
    _ranks_agree(r0, r1)
    for step in range(ITERS):
        for key in ('loss', 'loss_instance', 'loss_cld', 'cld_group_acc'):
            assert _mean_loss(r0, r1, step, key) == pytest.approx(
                single['losses'][step][key], rel=1e-5, abs=1e-6), (step, key)
        assert r0['losses'][step]['loss'] != r1['losses'][step]['loss']
        grads = single['grads'][step]
        assert set(grads) == set(r0['grads'][step])
        for key, g in grads.items():
            _close(r0['grads'][step][key], g, f'step {step} grad {key}')
        for key, v in single['states'][step].items():
            _close(r0['states'][step][key], v, f'step {step} {key}')
    # the ranks drew different random buffers (diff_rank_seed); the Runner
    # broadcast rank 0's state before training (mmengine's weight init),
    # so both start from the single process's; training moved them (MoCo:
    # 2 x 8 keys fill the queue of 16, the pointer wraps around)
    buf = STATE[name][0]
    assert torch.equal(r0['init'][buf], r1['init'][buf])
    assert torch.equal(r0['init'][buf], single['init'][buf])
    assert not torch.equal(single['states'][-1][buf], single['init'][buf])
    if name == 'MoCoCLD':
        assert int(single['states'][-1]['queue_ptr']) == 0


@pytest.mark.parametrize('name', ['NPIDCLD', 'MoCoCLD'])
def test_per_rank_clustering_differs_from_one_process(name, two_ranks,
                                                      one_process):
    run = (name, 'gn', False)
    r0, r1 = (r[run] for r in two_ranks)
    single = one_process[run]
    _ranks_agree(r0, r1)
    # iteration 1 starts from the same weights: the instance term and the
    # state it writes match, the per-rank clustering does not
    assert _mean_loss(r0, r1, 0, 'loss_instance') == pytest.approx(
        single['losses'][0]['loss_instance'], rel=1e-5, abs=1e-6)
    for key in STATE[name]:
        _close(r0['states'][0][key], single['states'][0][key], key)
    cld = _mean_loss(r0, r1, 0, 'loss_cld')
    assert abs(cld - single['losses'][0]['loss_cld']) > 1e-3
    group = [k for k in single['grads'][0]
             if k.startswith(_group_prefix(name))]
    assert group and any(
        not torch.allclose(r0['grads'][0][k], single['grads'][0][k],
                           rtol=1e-3, atol=1e-5) for k in group)


def _group_prefix(name):
    from mmpretrain.registry import MODELS
    model = MODELS.build(_model(name, 'gn', False))
    branch = tm.group_branch(model)
    return next(n for n, m in model.named_modules() if m is branch) + '.'


def test_batchnorm_statistics_are_per_rank(two_ranks, one_process):
    run = ('NPIDCLD', 'bn', True)
    r0, r1 = (r[run] for r in two_ranks)
    single = one_process[run]
    _ranks_agree(r0, r1)
    # normalised with 4 images' statistics instead of 8: other losses and
    # gradients, yet the bank stays identical on both ranks
    assert abs(_mean_loss(r0, r1, 0, 'loss_instance') -
               single['losses'][0]['loss_instance']) > 1e-4
    w = 'backbone.conv1.weight'
    assert not torch.allclose(r0['grads'][0][w], single['grads'][0][w],
                              rtol=1e-3, atol=1e-5)
    assert torch.equal(r0['states'][0]['memory_bank'],
                       r1['states'][0]['memory_bank'])
    means = [k for k in single['states'][0] if k.endswith('running_mean')]
    assert len(means) > 1
    for key in means:  # each rank its own images
        assert not torch.allclose(r0['states'][0][key],
                                  r1['states'][0][key]), key
    # the first BN sees the same conv1 outputs in both runs: its running
    # mean (0.9 * 0 + 0.1 * batch mean) averages over the two equal halves
    # to the single process's exactly; the running variance (unbiased
    # per-rank variances) does not. Deeper BNs already see inputs
    # normalised differently.
    first = 'backbone.bn1.running_'
    pooled = {k: (r0['states'][0][first + k] + r1['states'][0][first + k]) / 2
              for k in ('mean', 'var')}
    _close(pooled['mean'], single['states'][0][first + 'mean'], 'bn1 mean')
    assert not torch.allclose(pooled['var'], single['states'][0][first + 'var'],
                              rtol=1e-4, atol=1e-6)
