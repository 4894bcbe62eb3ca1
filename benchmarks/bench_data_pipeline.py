"""Data-pipeline throughput of the multi-view CIFAR pipelines vs workers.

    python benchmarks/bench_data_pipeline.py [--workers 0 1 2] [--batch 64]
        [--batches 8] [--configs CFG ...] [--ann-file meta/train_5k.txt]
        [--step-batches 3] [--threads N] [--json OUT.json]

For each config (default: NPID's two-view and MoCo+CLD's three-view CIFAR-10
configs) and each number of dataloader workers, the config's training
dataset is built through mmpretrain's registries on the shared CIFAR-10 and
iterated with the config's collate function: images/s (images, not views)
over ``--batches`` batches after one warm-up batch. Then, with the config's
model, a real training loop of ``--step-batches`` steps measures the share
of the step time spent waiting for the next batch (``--step-batches 0``
skips it).
"""
import argparse
import copy
import sys
import time

import torch
from mmengine.config import Config
from torch.utils.data import DataLoader

from common import (
    add_common_arguments,
    apply_threads,
    config_views,
    device_name,
    write_json,
)

DEFAULT_CONFIGS = [
    'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py',      # 2 views
    'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py',   # 3 views
]


def make_loader(cfg: Config, dataset, batch: int, workers: int) -> DataLoader:
    from mmengine.registry import FUNCTIONS
    collate = FUNCTIONS.get(cfg.train_dataloader.get(
        'collate_fn', {}).get('type', 'default_collate'))
    return DataLoader(dataset, batch_size=batch, shuffle=True,
                      num_workers=workers, collate_fn=collate, drop_last=True,
                      persistent_workers=False)


def images_per_second(loader: DataLoader, batches: int) -> float:
    it = iter(loader)
    next(it)                                   # warm-up (starts workers)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * loader.batch_size / (time.perf_counter() - start)


def wait_share(cfg: Config, loader: DataLoader, steps: int,
               device: str) -> dict:
    """Share of a real training step's time spent waiting for data."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    if 'bank_size' in model_cfg:
        model_cfg['bank_size'] = len(loader.dataset)
    model = MODELS.build(model_cfg).to(device).train()
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    it = iter(loader)
    model.train_step(next(it), optim)          # warm-up step
    wait = total = 0.0
    for _ in range(steps):
        t0 = time.perf_counter()
        data = next(it)
        t1 = time.perf_counter()
        model.train_step(data, optim)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        wait, total = wait + t1 - t0, total + t2 - t0
    return dict(wait_share=wait / total, step_s=total / steps)


def run(configs=tuple(DEFAULT_CONFIGS), workers=(0, 1, 2), batch=64,
        batches=8, step_batches=3, ann_file='meta/train_5k.txt',
        data_root=None, device='cpu') -> dict:
    from mmengine.registry import init_default_scope

    import cld_mm  # noqa: F401
    from cld_mm.evaluation.features import build_split_dataset
    rows = []
    for config in configs:
        cfg = Config.fromfile(config)
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        if 'data_preprocessor' not in cfg.model and 'data_preprocessor' in cfg:
            cfg.model.data_preprocessor = cfg.data_preprocessor
        dataset = build_split_dataset(cfg, 'train', data_root=data_root,
                                      ann_file=ann_file)
        for w in workers:
            loader = make_loader(cfg, dataset, batch, w)
            row = dict(config=config, views=config_views(cfg), workers=w,
                       images_per_s=images_per_second(loader, batches))
            if step_batches > 0:
                row.update(wait_share(cfg, make_loader(cfg, dataset, batch, w),
                                      step_batches, device))
            rows.append(row)
    return dict(device=device_name(device), batch=batch,
                batches=batches, step_batches=step_batches, rows=rows)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS)
    p.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--batches', type=int, default=8,
                   help='timed batches per setting')
    p.add_argument('--step-batches', type=int, default=3,
                   help='timed training steps for the waiting share')
    p.add_argument('--ann-file', default='meta/train_5k.txt')
    p.add_argument('--data-root')
    add_common_arguments(p)
    args = p.parse_args(argv)
    apply_threads(args.threads)
    res = run(args.configs, args.workers, args.batch, args.batches,
              args.step_batches, args.ann_file, args.data_root, args.device)
    print(f"device: {res['device']}; batch {args.batch}; "
          f"{args.batches} timed batches per setting")
    print('| config | views | workers | images/s | train step (s) | '
          'waiting for data |')
    print('|---|---:|---:|---:|---:|---:|')
    for r in res['rows']:
        step = f"{r['step_s']:.2f}" if 'step_s' in r else '-'
        share = f"{100 * r['wait_share']:.0f}%" if 'wait_share' in r else '-'
        name = r['config'].split('/')[-1].split('_')[0]
        print(f"| {name} | {r['views']} | {r['workers']} | "
              f"{r['images_per_s']:.0f} | "
              f"{step} | {share} |")
    if args.json:
        write_json(args.json, res)
    return res


if __name__ == '__main__':
    sys.exit(main() and 0)
