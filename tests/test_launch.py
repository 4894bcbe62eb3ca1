"""tools/dist_train.sh runs a tiny NPID config on 2 CPU processes (gloo), and
every rank of a gloo run ends through ``finish_process_group``."""
import os
import os.path as osp
import subprocess
import sys

import torch

from cld_mm.engine.dist_env import finish_process_group

from dist_utils import _free_port
from utils import REPO, t20_config


def test_dist_train_sh_two_gloo_processes(tmp_path, cifar_t20):
    cfg = t20_config(cifar_t20, str(tmp_path / 'unused'))  # 1 epoch
    cfg.global_batch_size = 8  # 4 per process on 2 processes
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
    # the 16 images of the 2 global batches have unit rows (updated); the
    # other 4 keep the uniform initial rows, whose norms are not 1
    bank = ckpt['state_dict']['memory_bank']
    assert int(((bank.norm(dim=1) - 1).abs() < 1e-5).sum()) == 16


# Each rank: an all-reduce, a log line and an unflushed print, then
# finish_process_group. An exit handler aborts the process the way the gloo
# worker threads can abort it while Python finalises (SIGABRT, "terminate
# called without an active exception", ~1 run in 15 on this machine): so the
# run only succeeds if finish_process_group really ends the process without
# finalising it (os._exit), every time, not only when the race is lost. The
# barrier and the destruction of the group are recorded as they are called.
_FINISH_SCRIPT = '''
import atexit, logging, os, sys, time
import torch, torch.distributed as dist
from cld_mm.engine.dist_env import finish_process_group
out = sys.argv[1]
dist.init_process_group('gloo')
rank = dist.get_rank()
log = logging.getLogger('finish')
log.addHandler(logging.FileHandler(out + f'/rank{rank}.log'))
log.setLevel(logging.INFO)
late = out + '/rank1.late'
for name in ('barrier', 'destroy_process_group'):
    def traced(*args, _name=name, _fn=getattr(dist, name), **kwargs):
        log.info('call %s', _name)
        result = _fn(*args, **kwargs)
        if _name == 'barrier':
            log.info('rank 1 ready %s', os.path.exists(late))
        return result
    setattr(dist, name, traced)
atexit.register(os.abort)  # finalisation must never run
t = torch.full((3,), float(rank + 1))
dist.all_reduce(t)
log.info('sum %s', t.tolist())
if rank == 1:
    time.sleep(1.0)  # rank 0 must wait for it in the barrier
    open(late, 'w').close()
print(f'rank {rank} done', flush=False)
finish_process_group()
print('after finish')
'''


def test_finish_process_group_exits_cleanly_with_logs_flushed(tmp_path):
    script = tmp_path / 'finish.py'
    script.write_text(_FINISH_SCRIPT)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
         '--nproc_per_node=2', f'--master_port={_free_port()}',
         str(script), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300)
    # no rank reached Python's finalisation (the exit handler would abort)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'SIGABRT' not in proc.stderr and 'Signals.6' not in proc.stderr
    # the buffered prints were flushed, nothing after the call ran
    assert 'rank 0 done' in proc.stdout and 'rank 1 done' in proc.stdout
    assert 'after finish' not in proc.stdout
    for rank in (0, 1):
        lines = (tmp_path / f'rank{rank}.log').read_text().splitlines()
        # all-reduce, then the barrier (which waited for the slow rank 1),
        # then the group is destroyed; every line reached the file
        assert lines == ['sum [3.0, 3.0, 3.0]', 'call barrier',
                         'rank 1 ready True', 'call destroy_process_group'], \
            (rank, lines)


def test_finish_without_process_group_returns():
    assert finish_process_group() is None  # one process: nothing to end
