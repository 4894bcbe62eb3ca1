"""Offline weighted kNN evaluation of a checkpoint.

    python tools/analysis/knn_eval.py CONFIG CHECKPOINT [--level neck|backbone]
        [--k 200] [--temperature 0.1] [--cfg-options ...]

The training set's features are recomputed with test transforms (the config's
``test_dataloader``, a ``KNNDataset``), then each test image is classified by
its k nearest training features.
"""
import argparse
import json
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import cld_mm  # noqa: F401
from cld_mm.engine.config_checks import check_dataset_paths


def parse_args():
    parser = argparse.ArgumentParser(description='kNN evaluation')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--level', choices=['neck', 'backbone'],
                        help='feature level (default: the config\'s)')
    parser.add_argument('--k', type=int, default=200)
    parser.add_argument('--temperature', type=float, default=0.1)
    parser.add_argument('--work-dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    if not osp.exists(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.level:
        cfg.model.eval_level = args.level
    cfg.test_evaluator = dict(type='KNNAccuracy', k=args.k,
                              temperature=args.temperature)
    cfg.load_from = args.checkpoint
    cfg.work_dir = args.work_dir or osp.join(
        './work_dirs', 'knn_' + osp.splitext(osp.basename(args.config))[0])
    check_dataset_paths(cfg, phases=('test', ))
    metrics = Runner.from_cfg(cfg).test()
    print(json.dumps(metrics))


if __name__ == '__main__':
    main()
