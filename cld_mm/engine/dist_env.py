"""Start and end torch.distributed on machines without CUDA (gloo on CPU)."""
import logging
import os
import sys

import torch
import torch.distributed as dist


def init_cpu_process_group(launcher: str) -> bool:
    """Initialise a gloo process group for ``--launcher pytorch`` without CUDA.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device(LOCAL_RANK)``
    unconditionally, which fails on a CPU-only torch (``module 'torch._C'
    has no attribute '_cuda_setDevice'``). Initialised here first, the
    Runner finds the group ready and skips its own initialisation. With
    CUDA, or without a launcher, nothing is done.

    Returns:
        bool: whether a process group was initialised.

    Raises:
        KeyError: a torchrun environment variable is missing.
        ValueError: a launcher other than ``pytorch`` on a CPU-only machine.
    """
    if launcher == 'none' or torch.cuda.is_available() or \
            dist.is_initialized():
        return False
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs CUDA; on CPU use '
                         'tools/dist_train.sh (torchrun, --launcher pytorch)')
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise KeyError(f'--launcher pytorch but {missing} not set: start it '
                       'with tools/dist_train.sh (torchrun)')
    dist.init_process_group('gloo')
    return True


def cpu_model_wrapper_cfg(cfg) -> None:
    """Make the Runner's DDP wrapper work on CPU (``device_ids=None``).

    Without a ``model_wrapper_cfg`` mmengine passes
    ``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU modules.
    """
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def finish_process_group() -> None:
    """End a run's process group so that no rank aborts while exiting.

    The gloo backend's worker threads can still be releasing their last
    tensors when Python finalises; a thread that needs the GIL then is
    unwound by the interpreter, and the C++ runtime aborts (SIGABRT,
    ``terminate called without an active exception``) after the run itself
    succeeded, which makes torchrun report the rank as failed. So a gloo run
    ends with a barrier, ``destroy_process_group``, flushed logs and streams,
    and ``os._exit(0)``, which skips finalisation. Call it last, after
    everything the run writes has been written. Other backends are only
    destroyed; without a process group nothing happens.
    """
    if not dist.is_available() or not dist.is_initialized():
        return
    gloo = dist.get_backend() == 'gloo'
    dist.barrier()
    dist.destroy_process_group()
    if not gloo:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe
            pass
    os._exit(0)
