"""Checks on a config before a Runner is built; errors name the problem."""
import os
import os.path as osp
from typing import List, Mapping, Optional

from mmengine.config import Config

from .data_checks import check_annotation_file

DATA_HINT = ('set data_root / ann_file with --cfg-options, or put the '
             'dataset where the config expects it (README, "Data"); for '
             'CIFAR-10 run `python tools/dataset_converters/prepare_cifar10.py'
             ' --tar ../shared/data/cifar10_jpg.tar.gz`')


def _dataset_paths(ds_cfg) -> List[str]:
    """The data_root / ann_file paths a dataset config (or wrapper) reads."""
    if not isinstance(ds_cfg, dict):
        return []
    paths = []
    root = ds_cfg.get('data_root') or ''
    if root:
        paths.append(root)
    ann = ds_cfg.get('ann_file') or ''
    if ann and '://' not in ann:
        paths.append(ann if osp.isabs(ann) else osp.join(root, ann))
    for key in ('dataset', 'memory', 'query', 'datasets'):
        sub = ds_cfg.get(key)
        for s in (sub if isinstance(sub, (list, tuple)) else [sub]):
            paths += _dataset_paths(s)
    return paths


def check_dataset_paths(cfg: Config, phases=('train', 'val', 'test')) -> None:
    """Raise ``FileNotFoundError`` naming the first missing dataset path."""
    for phase in phases:
        loader = cfg.get(f'{phase}_dataloader')
        if not loader:
            continue
        for path in _dataset_paths(loader.get('dataset')):
            if '://' not in path and not osp.exists(path):
                raise FileNotFoundError(
                    f'{phase} data not found: {path!r} does not exist '
                    f'(cwd {osp.abspath(".")}); {DATA_HINT}')
            if '://' not in path:
                check_annotation_file(path)


WORLD_SIZE_ENV = dict(pytorch='WORLD_SIZE', slurm='SLURM_NTASKS',
                      mpi='OMPI_COMM_WORLD_SIZE')


def launch_world_size(launcher: str,
                      env: Optional[Mapping[str, str]] = None) -> int:
    """Number of processes a launcher starts, read before dist init."""
    env = os.environ if env is None else env
    key = WORLD_SIZE_ENV.get(launcher)
    if key is None:
        return 1
    if key not in env:
        raise KeyError(f'--launcher {launcher} but {key} is not set: start '
                       'it with tools/dist_train.sh (torchrun) or '
                       'tools/slurm_train.sh (srun)')
    return int(env[key])


def apply_global_batch_size(cfg: Config, world_size: int) -> Config:
    """Split ``cfg.global_batch_size`` (if set) evenly over the processes.

    The papers state global batches (256 on one GPU, 512 over 8 GPUs);
    mmengine's ``train_dataloader.batch_size`` is per process. With
    ``global_batch_size`` set, the per-process batch becomes
    ``global_batch_size // world_size``.

    Raises:
        ValueError: the global batch is not a positive multiple of the
            number of processes.
    """
    gbs = cfg.get('global_batch_size')
    if gbs is None:
        return cfg
    if int(gbs) < 1 or int(gbs) % world_size:
        raise ValueError(
            f'global_batch_size={gbs} is not divisible by the number of '
            f'processes ({world_size}): every process must get the same '
            f'batch; use a multiple of {world_size}')
    cfg.train_dataloader.batch_size = int(gbs) // world_size
    return cfg
