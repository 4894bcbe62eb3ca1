"""Evaluate a checkpoint with a config's test loop (e.g. kNN accuracy).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--launcher pytorch]
    bash tools/dist_test.sh CONFIG CHECKPOINT NPROC   # several processes

The checkpoint is loaded with the rule every evaluation tool shares
(:mod:`cld_mm.evaluation.checkpoint`): the weights of the model's
``eval_level`` (backbone, instance neck) must be in it with the model's
shapes, or the tool stops and lists the missing and mismatched keys; memory
banks, MoCo queues and SMoG groups, which evaluation does not read, never
stop it (a bank of another size included).
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_rank

import cld_mm  # noqa: F401
from cld_mm.engine.config_checks import check_dataset_paths
from cld_mm.engine.dist_env import (
    cpu_model_wrapper_cfg,
    finish_process_group,
    init_cpu_process_group,
)
from cld_mm.evaluation.checkpoint import CheckpointMismatchError
from cld_mm.evaluation.offline import evaluate_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir', help='log folder (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, KEY=VALUE')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def test_config(args) -> Config:
    """The config with the command line folded in."""
    from cld_mm.compat import load_config
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.launcher != 'none' and not torch.cuda.is_available():
        cpu_model_wrapper_cfg(cfg)
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not osp.exists(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = test_config(args)
    check_dataset_paths(cfg, phases=('test', ))
    init_cpu_process_group(args.launcher)  # gloo when there is no CUDA
    try:
        metrics = evaluate_checkpoint(cfg, args.checkpoint)
    except CheckpointMismatchError as exc:
        sys.exit(f'error: {exc}')
    if get_rank() == 0:
        print(metrics, flush=True)
    return metrics


if __name__ == '__main__':
    main()
    finish_process_group()
