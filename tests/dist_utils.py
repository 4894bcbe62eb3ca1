"""Run a function in a real 2-process ``torch.distributed`` gloo group.

    results = run_gloo(worker, world_size=2, args=(...))

``worker(rank, world_size, *args)`` must be a module-level function (it is
pickled by ``torch.multiprocessing.spawn``); its return value (tensors are
fine) comes back in ``results[rank]``. Exceptions in a worker fail the test
(the other rank may then wait in a collective until the spawn kills it).
The group meets through a file in a fresh temporary folder, not a TCP port,
so parallel test runs on one machine cannot collide.
"""
import os
import socket
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from cld_mm.engine.dist_env import finish_process_group


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _entry(rank, world_size, out_dir, fn, args):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo', init_method='file://' + os.path.join(out_dir, 'store'),
        rank=rank, world_size=world_size)
    result = fn(rank, world_size, *args)
    torch.save(result, os.path.join(out_dir, f'{rank}.pt'))
    # barrier, destroy and os._exit(0): see finish_process_group
    finish_process_group()


def run_gloo(fn, world_size: int = 2, args: tuple = ()) -> list:
    """Spawn ``world_size`` gloo processes running ``fn``; return their results."""
    with tempfile.TemporaryDirectory() as out_dir:
        mp.spawn(_entry, args=(world_size, out_dir, fn, args),
                 nprocs=world_size, join=True)
        return [torch.load(os.path.join(out_dir, f'{r}.pt'), weights_only=False)
                for r in range(world_size)]
