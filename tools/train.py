"""Train a cld_mm (or any mmpretrain) config with an mmengine Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]
        [--amp [bf16|fp16]] [--channels-last] [--compile [BACKEND]]
        [--cfg-options key=value ...] [--launcher pytorch]
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction

import cld_mm  # noqa: F401  (registers modules, applies compat fixes)
from cld_mm.compat import load_config
from cld_mm.engine.config_checks import (
    apply_global_batch_size,
    check_dataset_paths,
    launch_world_size,
)
from cld_mm.engine.dist_env import (
    cpu_model_wrapper_cfg,
    finish_process_group,
    init_cpu_process_group,
)
from cld_mm.engine.runner import DeviceAwareRunner, cpu_env
from cld_mm.engine.step_options import apply_step_options


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint '
                        'in the work dir when no CKPT is given')
    parser.add_argument('--amp', nargs='?', const='auto', default=None,
                        choices=['auto', 'bf16', 'fp16'],
                        help='mixed precision (CPU or GPU); without a value: '
                        'fp16 with CUDA, else bf16')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last memory format (ChannelsLastHook)')
    parser.add_argument('--compile', nargs='?', const=True, default=False,
                        help='torch.compile the train step (mmengine '
                        '"compile"); optional torch.compile backend name')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip evaluation during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch / base_batch_size')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, key=value')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args) -> Config:
    """Fold the command line into the config."""
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    apply_step_options(cfg, args.amp, args.channels_last, args.compile)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.exists(args.resume):
            raise FileNotFoundError(f'checkpoint to resume not found: '
                                    f'{args.resume}')
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # No GPU: NCCL cannot run, use gloo (and say so in the log).
    cpu_env(cfg)
    if args.launcher != 'none' and not torch.cuda.is_available():
        cpu_model_wrapper_cfg(cfg)
    return apply_global_batch_size(cfg, launch_world_size(args.launcher))


def main():
    args = parse_args()
    # a detection / segmentation config on the lite install: a clear error
    cfg = merge_args(load_config(args.config), args)
    check_dataset_paths(cfg, phases=('train', 'val')
                        if cfg.get('val_dataloader') else ('train', ))
    init_cpu_process_group(args.launcher)  # gloo when there is no CUDA
    runner = DeviceAwareRunner.from_cfg(cfg)
    runner.train()
    finish_process_group()


if __name__ == '__main__':
    main()
