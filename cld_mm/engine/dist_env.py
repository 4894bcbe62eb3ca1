"""Start torch.distributed on machines without CUDA (gloo on CPU)."""
import os

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
