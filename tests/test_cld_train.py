"""NPIDCLD, MoCoCLD and BYOLCLD train a few iterations in a real Runner."""
import math
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from utils import REPO, tiny_config

CFG = {
    'NPIDCLD': 'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py',
    'MoCoCLD': 'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py',
    'BYOLCLD': 'configs/cld/byol-cld_resnet18_1xb256-coslr-200e_cifar10.py',
}
OVERRIDES = {'NPIDCLD': {}, 'MoCoCLD': dict(queue_len=64), 'BYOLCLD': {}}


def _last_log(runner):
    return {k: v for k, v in runner.message_hub.log_scalars.items()}


@pytest.mark.parametrize('algo', sorted(CFG))
def test_trains_with_finite_losses_and_logs(algo, cifar_slice, tmp_path):
    root, train_ann, _ = cifar_slice
    cfg = tiny_config(CFG[algo], str(tmp_path), root, train_ann,
                      batch_size=8, max_iters=3, **OVERRIDES[algo])
    cfg.model.cld_head.num_clusters = 4
    cfg.model.backbone.norm_cfg = dict(type='BN')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    runner = Runner.from_cfg(cfg)
    assert type(runner.model).__name__ == algo
    before = {k: v.clone()
              for k, v in runner.model.group_neck.state_dict().items()}
    runner.train()
    logs = _last_log(runner)
    for key in ('train/loss', 'train/loss_instance', 'train/loss_cld',
                'train/cld_group_acc', 'train/cld_num_groups'):
        assert key in logs, sorted(logs)
        assert math.isfinite(logs[key].current())
    assert 0 <= logs['train/cld_group_acc'].current() <= 100
    assert 1 <= logs['train/cld_num_groups'].current() <= 4
    # loss = instance + lambda * L_CLD, lambda already inside loss_cld
    assert logs['train/loss'].current() == pytest.approx(
        logs['train/loss_instance'].current() +
        logs['train/loss_cld'].current(), rel=1e-5)
    # the group branch learned (gradients reached it)
    after = runner.model.group_neck.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize('algo', sorted(CFG))
def test_missing_group_branch_is_a_clear_error(algo):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, CFG[algo]))
    cfg.model.backbone.norm_cfg = dict(type='BN')
    group_neck = cfg.model.pop('group_neck')
    with pytest.raises(ValueError, match='group branch is missing'):
        MODELS.build(cfg.model)
    cfg.model.group_neck = group_neck
    cfg.model.pop('cld_head')
    with pytest.raises(ValueError, match='needs `cld_head='):
        MODELS.build(cfg.model)
