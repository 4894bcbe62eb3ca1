"""tools/dist_train.sh runs a tiny NPID config on 2 CPU processes (gloo)."""
import os
import os.path as osp
import subprocess
import sys

import torch

from conftest import write_subset
from dist_utils import _free_port
from utils import REPO, tiny_config

NPID_CFG = 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py'


def test_dist_train_sh_two_gloo_processes(tmp_path, cifar_slice):
    root = cifar_slice[0]
    ann = write_subset(root, 'train', 2, 'train_t20')
    cfg = tiny_config(NPID_CFG, str(tmp_path / 'unused'), root, ann,
                      batch_size=8, max_iters=2)  # 1 epoch
    cfg.global_batch_size = 8  # 4 per process on 2 processes
    cfg.train_dataloader.dataset.pipeline[1].transforms[0][0].scale = 16
    cfg.randomness = dict(seed=0)
    config = str(tmp_path / 'npid_tiny.py')
    cfg.dump(config)
    work = tmp_path / 'work'
    env = dict(os.environ, PORT=str(_free_port()), PYTHON=sys.executable,
               OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '2',
         '--work-dir', str(work)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ckpt = torch.load(str(work / 'epoch_1.pth'), weights_only=True)
    meta = ckpt['meta']
    assert meta['world_size'] == 2 and meta['algorithm'] == 'NPID'
    # 20 images, 2 x 4 per iteration, drop_last: 2 iterations (1 process
    # with batch 4 would have run 5)
    assert meta['iter'] == 2
    assert len(ckpt['rng_states']) == 2  # both ranks' generators saved
    bank = ckpt['state_dict']['memory_bank']
    torch.testing.assert_close(bank.norm(dim=1), torch.ones(20))


_FINISH_SCRIPT = '''
import logging, sys
import torch, torch.distributed as dist
from cld_mm.engine.dist_env import finish_process_group
dist.init_process_group('gloo')
rank = dist.get_rank()
log = logging.getLogger('finish')
log.addHandler(logging.FileHandler(sys.argv[1] + f'/rank{rank}.log'))
log.setLevel(logging.INFO)
t = torch.full((3,), float(rank + 1))
dist.all_reduce(t)
log.info('sum %s', t.tolist())
print(f'rank {rank} done', flush=False)
finish_process_group()
print('after finish')
'''


def test_finish_process_group_exits_cleanly_with_logs_flushed(tmp_path):
    script = tmp_path / 'finish.py'
    script.write_text(_FINISH_SCRIPT)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    # several runs: the abort it prevents came at exit in ~1 of 15 runs
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
             '--nproc_per_node=2', f'--master_port={_free_port()}',
             str(script), str(tmp_path)],
            env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert 'terminate called' not in proc.stderr
        # the buffered prints were flushed, nothing after the call ran
        assert 'rank 0 done' in proc.stdout and 'rank 1 done' in proc.stdout
        assert 'after finish' not in proc.stdout
        for rank in (0, 1):
            text = (tmp_path / f'rank{rank}.log').read_text()
            assert text.strip().endswith('sum [3.0, 3.0, 3.0]')
