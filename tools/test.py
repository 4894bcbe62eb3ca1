"""Evaluate a checkpoint with a config's test loop (e.g. kNN accuracy).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--launcher pytorch]
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import cld_mm  # noqa: F401
from cld_mm.engine.config_checks import check_dataset_paths
from cld_mm.engine.dist_env import (
    cpu_model_wrapper_cfg,
    finish_process_group,
    init_cpu_process_group,
)


def parse_args():
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    if not osp.exists(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    cfg.work_dir = args.work_dir or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.launcher != 'none' and not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
        cpu_model_wrapper_cfg(cfg)
    check_dataset_paths(cfg, phases=('test', ))
    init_cpu_process_group(args.launcher)  # gloo when there is no CUDA
    metrics = Runner.from_cfg(cfg).test()
    print(metrics)
    finish_process_group()


if __name__ == '__main__':
    main()
