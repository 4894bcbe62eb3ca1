"""Checks on a config before a Runner is built, with errors that name the problem."""
import os.path as osp
from typing import List

from mmengine.config import Config

DATA_HINT = ('prepare CIFAR-10 with `python tools/dataset_converters/'
             'prepare_cifar10.py --tar ../shared/data/cifar10_jpg.tar.gz` '
             'or set the data_root with --cfg-options')


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
