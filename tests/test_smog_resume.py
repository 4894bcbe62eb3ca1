"""SMoG resume: 2 iterations + crash + resume == 4 uninterrupted."""
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from tiny_smog import RUNNER_CONFIG, RUNNER_SMALL, shrink_runner_cfg

from utils import tiny_config


class _Crash(Hook):
    def __init__(self, at):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at:
            raise RuntimeError('simulated crash')


def _iter_cfg(work_dir, cifar_slice, max_iters, ckpt_interval=100):
    root, train_ann, _ = cifar_slice
    cfg = shrink_runner_cfg(tiny_config(RUNNER_CONFIG, work_dir, root,
                                        train_ann, batch_size=8,
                                        **RUNNER_SMALL))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_iters,
                                by_epoch=False, begin=0, end=max_iters)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=ckpt_interval,
                                        by_epoch=False, save_last=False)
    cfg.custom_hooks = [dict(type='SMoGReclusterHook', interval=2)]
    return cfg


def test_resume_matches_uninterrupted_training(tmp_path, cifar_slice):
    full = Runner.from_cfg(_iter_cfg(str(tmp_path / 'full'), cifar_slice,
                                     4))
    full.train()

    first = Runner.from_cfg(_iter_cfg(str(tmp_path / 'res'), cifar_slice,
                                      4, ckpt_interval=2))
    first.register_hook(_Crash(2), priority='LOWEST')
    with pytest.raises(RuntimeError, match='simulated crash'):
        first.train()
    ckpt = osp.join(str(tmp_path / 'res'), 'iter_2.pth')
    saved = torch.load(ckpt, weights_only=False)['state_dict']
    assert int(saved['group_step']) == 2 and int(saved['num_reclusters']) == 1
    assert int(saved['cache_filled']) == 16

    cfg = _iter_cfg(str(tmp_path / 'res'), cifar_slice, 4)
    cfg.resume, cfg.load_from = True, ckpt
    resumed = Runner.from_cfg(cfg)
    resumed.train()

    a, b = full.model, resumed.model
    assert int(b.group_step) == 4 and int(b.num_reclusters) == 2
    assert b.current_beta() == pytest.approx(a.current_beta())
    for name in ('groups', 'feature_cache', 'cache_ptr', 'cache_filled',
                 'num_reclusters'):
        torch.testing.assert_close(getattr(b, name), getattr(a, name),
                                   msg=name)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sb[k], sa[k], msg=k)
