"""Timing helpers shared by the benchmark scripts (not a test utility).

Every figure a benchmark prints is measured in one process on one device:
``warmup`` untimed calls, then ``reps`` timed calls; the median is reported
(with min and max), and ratios are ratios of medians.
"""
import json
import os
import os.path as osp
import platform
import statistics
import time
from typing import Callable, Dict

import torch


def sync(device: str) -> None:
    """Wait for queued kernels (a no-op on CPU)."""
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def time_call(fn: Callable[[], object], warmup: int = 2, reps: int = 5,
              device: str = 'cpu') -> Dict[str, float]:
    """Seconds per call of ``fn``: median, min, max over ``reps`` calls."""
    if warmup < 0 or reps < 1:
        raise ValueError(f'need warmup >= 0 and reps >= 1, got {warmup}, '
                         f'{reps}')
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return dict(median=statistics.median(times), min=min(times),
                max=max(times), reps=reps)


def device_name(device: str) -> str:
    """A label for the figures: GPU model, or CPU model and thread count."""
    if str(device).startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'{cpu} ({torch.get_num_threads()} torch threads)'


def add_common_arguments(parser) -> None:
    """--device, --threads, --warmup, --reps, --json."""
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s choice); '
                        '1 gives steadier figures on a busy machine')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--json', help='also write the figures to this file')


def apply_threads(threads) -> None:
    if threads is not None:
        if threads < 1:
            raise ValueError(f'--threads must be >= 1, got {threads}')
        torch.set_num_threads(threads)


def write_json(path: str, result: dict) -> None:
    """Write ``result`` as JSON (folders created)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(result, f, indent=2)


def config_views(cfg) -> int:
    """Views per image of a config's training pipeline (its MultiView)."""
    ds = cfg.train_dataloader.dataset
    while 'dataset' in ds and 'pipeline' not in ds:
        ds = ds.dataset
    for t in ds.pipeline:
        if t.get('type') == 'MultiView':
            n = t['num_views']
            return int(sum(n)) if isinstance(n, (list, tuple)) else int(n)
    return 1
