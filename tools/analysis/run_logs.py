"""Read mmengine work dirs: validation scalars and the dumped config.

mmengine's ``LocalVisBackend`` writes ``WORK_DIR/<timestamp>/vis_data/
scalars.json``, one JSON object per line; validation lines carry the metric
keys (``knn/top1``) and ``step`` (the epoch of an epoch-based loop). A run
resumed in the same work dir has several timestamp folders: they are merged
in time order, a later value for the same step replacing an earlier one.
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

KNN_KEY = 'knn/top1'
METHOD_NAMES = {'NPID': 'NPID', 'NPIDCLD': 'NPID+CLD', 'MoCo': 'MoCo',
                'EvalMoCo': 'MoCo', 'EvalBYOL': 'BYOL',
                'MoCoCLD': 'MoCo+CLD', 'BYOL': 'BYOL', 'BYOLCLD': 'BYOL+CLD',
                'SMoG': 'SMoG'}


def scalar_files(work_dir: str) -> List[str]:
    """The work dir's scalars.json files, oldest run first."""
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir not found: {work_dir}')
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        raise FileNotFoundError(
            f'no */vis_data/scalars.json under {work_dir}: is it an mmengine '
            'work dir of a run that logged at least once?')
    return files


def metric_curve(work_dir: str, key: str = KNN_KEY
                 ) -> Tuple[List[int], List[float]]:
    """(steps, values) of ``key`` over the merged runs, sorted by step."""
    values: Dict[int, float] = {}
    for path in scalar_files(work_dir):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line)
                if key in rec:
                    values[int(rec['step'])] = float(rec[key])
    steps = sorted(values)
    return steps, [values[s] for s in steps]


def dumped_config(work_dir: str) -> Optional[str]:
    """The config mmengine copied into the work dir (newest), or None."""
    hits = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'config.py')))
    if hits:
        return hits[-1]
    hits = sorted(glob.glob(osp.join(work_dir, '*.py')))
    return hits[-1] if hits else None


def run_method(work_dir: str) -> Optional[str]:
    """The method (``NPID+CLD`` ...) from the dumped config's model type."""
    path = dumped_config(work_dir)
    if path is None:
        return None
    from mmengine.config import Config
    model_type = Config.fromfile(path).model.get('type', '')
    return METHOD_NAMES.get(model_type, model_type)


def parse_run_arg(arg: str) -> Tuple[Optional[str], str]:
    """``LABEL=WORK_DIR`` -> (LABEL, WORK_DIR); ``WORK_DIR`` -> (None, it)."""
    if '=' in arg and not osp.isdir(arg):
        label, path = arg.split('=', 1)
        return label, path
    return None, arg
