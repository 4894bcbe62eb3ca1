"""Faults during training: NaN/Inf losses, and saves killed midway."""
import logging
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from cld_mm.engine import AtomicLocalBackend, NaNGuardOptimWrapper
from cld_mm.engine.optim_wrapper import nonfinite_terms
from cld_mm.models.algorithms import NPID

from utils import NPID_CFG, REPO, t20_config


@MODELS.register_module(force=True)
class NaNProbeNPID(NPID):
    """NPID with an extra loss term ``loss_probe``: 0, or NaN on the
    ``nan_at``-th training step (a real non-finite loss, not a mock)."""

    def __init__(self, nan_at: int, **kwargs):
        super().__init__(**kwargs)
        self.nan_at, self.calls = nan_at, 0

    def loss(self, inputs, data_samples, **kwargs):
        losses = super().loss(inputs, data_samples, **kwargs)
        self.calls += 1
        bad = float('nan') if self.calls == self.nan_at else 0.0
        losses['loss_probe'] = torch.tensor(bad)
        return losses


def test_nonfinite_terms():
    got = nonfinite_terms(dict(loss=torch.tensor(float('inf')),
                               loss_a=torch.tensor(1.0),
                               loss_b=torch.tensor([0.0, float('-inf')]),
                               acc=float('nan')))
    assert list(got) == ['loss', 'loss_b', 'acc']
    assert got['loss_b'] == float('-inf')


def test_guard_skips_the_whole_step():
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    wrapper = NaNGuardOptimWrapper(
        torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9))
    x = torch.randn(4, 3)
    wrapper.update_params(lin(x).pow(2).mean())  # a normal step
    assert not wrapper.last_step_skipped
    params = [p.clone() for p in lin.parameters()]
    momenta = [wrapper.optimizer.state[p]['momentum_buffer'].clone()
               for p in lin.parameters()]
    for bad in (float('nan'), float('inf')):
        wrapper.update_params(lin(x).pow(2).mean() * bad)
        assert wrapper.last_step_skipped
        for p, q, m in zip(lin.parameters(), params, momenta):
            assert torch.equal(p, q)  # no step
            assert torch.equal(wrapper.optimizer.state[p]['momentum_buffer'],
                               m)  # momentum not advanced
            assert p.grad is None or not p.grad.any()
    assert len(wrapper.skipped_iters) == 2
    wrapper.update_params(lin(x).pow(2).mean())
    assert not torch.equal(lin.weight, params[0])  # training goes on


def _nan_config(work_dir, cifar_t20, policy, guard=True):
    cfg = t20_config(cifar_t20, work_dir, max_iters=5,  # 2 epochs of 2 iters
                     type='NaNProbeNPID', nan_at=3)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.nonfinite_loss = dict(type='NonFiniteLossHook',
                                            policy=policy)
    if guard:
        cfg.optim_wrapper.type = 'NaNGuardOptimWrapper'
    return cfg


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_nan_loss_stop_names_iteration_and_term(tmp_path, cifar_t20):
    work = str(tmp_path)
    runner = Runner.from_cfg(_nan_config(work, cifar_t20, 'stop'))
    with pytest.raises(FloatingPointError,
                       match=r'iteration 3 \(epoch 2\): loss_probe=nan'):
        runner.train()
    # the epoch-1 checkpoint is intact and no later one was written
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == \
        ['epoch_1.pth']
    ckpt = torch.load(osp.join(work, 'epoch_1.pth'), weights_only=True)
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values())


def test_nan_loss_skip_continues_with_finite_weights(tmp_path, cifar_t20):
    work = str(tmp_path)
    runner = Runner.from_cfg(_nan_config(work, cifar_t20, 'skip'))
    records = _Records()
    runner.logger.addHandler(records)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(records)
    assert runner.optim_wrapper.skipped_iters == [3]
    assert any('iteration 3 (epoch 2): loss_probe=nan; the optimizer step '
               'was skipped' in line for line in records.lines)
    ckpt = torch.load(osp.join(work, 'epoch_2.pth'), weights_only=True)
    assert ckpt['meta']['iter'] == 4
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values())


def test_skip_policy_needs_the_guard_wrapper(tmp_path, cifar_t20):
    runner = Runner.from_cfg(_nan_config(str(tmp_path), cifar_t20, 'skip',
                                         guard=False))
    assert type(runner.optim_wrapper) is OptimWrapper or isinstance(
        runner.optim_wrapper, dict)
    with pytest.raises(ValueError, match='NaNGuardOptimWrapper'):
        runner.train()


# --- atomic checkpoints -------------------------------------------------

def test_default_runtime_saves_checkpoints_atomically():
    cfg = Config.fromfile(osp.join(REPO, NPID_CFG))
    args = cfg.default_hooks.checkpoint.backend_args
    assert isinstance(get_file_backend('work_dirs/x', backend_args=args),
                      AtomicLocalBackend)


KILL_SCRIPT = r'''
import importlib.util, io, resource, signal, sys
import torch
spec = importlib.util.spec_from_file_location('fileio', sys.argv[1])
fileio = importlib.util.module_from_spec(spec); spec.loader.exec_module(fileio)
from mmengine.fileio import get_file_backend
path, backend, mode = sys.argv[2], sys.argv[3], sys.argv[4]
buf = io.BytesIO(); torch.save({'w': torch.ones(1 << 20)}, buf)  # 4 MiB
limit = 1 << 18  # files may not grow past 256 KiB: the write fails midway
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
# Python ignores SIGXFSZ (the write then raises OSError EFBIG); 'kill'
# restores the default action: the kernel kills the process mid-write.
signal.signal(signal.SIGXFSZ, signal.SIG_DFL if mode == 'kill'
              else signal.SIG_IGN)
try:
    get_file_backend(path, backend_args=dict(backend=backend)).put(
        buf.getvalue(), path)
except OSError as exc:
    print('OSError', exc.errno); sys.exit(3)
'''


def _good_checkpoint(path):
    torch.save({'w': torch.arange(10.)}, path)
    with open(path, 'rb') as f:
        return f.read()


@pytest.mark.parametrize('backend,mode', [('atomic_local', 'kill'),
                                          ('atomic_local', 'raise'),
                                          ('local', 'kill')])
def test_save_failing_midway(tmp_path, backend, mode):
    path = str(tmp_path / 'epoch_1.pth')
    good = _good_checkpoint(path)
    script = tmp_path / 'save.py'
    script.write_text(KILL_SCRIPT)
    fileio = osp.join(REPO, 'cld_mm', 'engine', 'fileio.py')
    proc = subprocess.run([sys.executable, str(script), fileio, path, backend,
                           mode], capture_output=True, text=True)
    if mode == 'kill':  # killed by the kernel in the middle of the write
        assert proc.returncode == -signal.SIGXFSZ, proc.stderr
    else:
        assert proc.returncode == 3 and 'OSError 27' in proc.stdout
    if backend == 'local':  # mmengine's plain backend: the good file is gone
        assert osp.getsize(path) == 1 << 18
        with pytest.raises(Exception):
            torch.load(path, weights_only=True)
        return
    with open(path, 'rb') as f:
        assert f.read() == good  # untouched, loadable
    assert torch.equal(torch.load(path, weights_only=True)['w'],
                       torch.arange(10.))
    leftovers = [f for f in os.listdir(tmp_path) if f.startswith('.tmp-')]
    # a killed writer leaves its temp file (never read); a raising one not
    assert len(leftovers) == (1 if mode == 'kill' else 0)
