"""The fast data path against the mmcv pipeline: augmentation and step time.

    python benchmarks/bench_fast_path.py [--workers 0 1 2] [--batches 4]
        [--step-batches 2] [--settings 32px-2v 32px-3v 96px-2v 96px-3v]
        [--ann-file meta/train_5k.txt] [--data-root data/cifar10]
        [--base-channels 64] [--threads N] [--json OUT.json]
    python benchmarks/bench_fast_path.py --small   # seconds; used by tests

Settings (all on the shared CIFAR-10 JPEGs, 32 px images):

* ``32px-2v``: NPID's CIFAR-10 recipe (2 views), batch 256;
* ``32px-3v``: MoCo+CLD's CIFAR-10 recipe (3 views), batch 256;
* ``96px-2v`` / ``96px-3v``: the STL-10 view pipeline (crops to 96 px) in
  place of NPID's, 2 or 3 views, batch 64.

For each setting, one run measures (a) augmentation throughput, in images
(not views) per second: the mmcv pipeline through a ``DataLoader`` with
each number of workers, and the fast path (``InMemoryImages`` + the
batched ``DeviceMultiViewPreprocessor`` with the same view pipeline, in the
main process); (b) the end-to-end training step (next batch + the model's
``train_step``, augmentation included for the fast path) of the setting's
model with each data source (one model per setting, warmed up once; only
its data preprocessor differs between sources), and the share of it spent
waiting for the loader (for the fast path: the augmentation's share,
estimated from (a)). Ratios are of figures from the same run.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import tempfile
import time

import torch
from bench_data_pipeline import images_per_second, make_loader
from mmengine.config import Config

from common import (
    add_common_arguments,
    apply_threads,
    config_views,
    device_name,
    sync,
    write_json,
)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NPID = 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py'
MOCO_CLD = 'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py'
STL = 'configs/npid/npid_resnet18_1xb256-coslr-200e_stl10.py'
# name: (config, views (None: the config's), batch, view pipeline source)
SETTINGS = {
    '32px-2v': (NPID, None, 256, None),
    '32px-3v': (MOCO_CLD, None, 256, None),
    '96px-2v': (NPID, 2, 64, STL),
    '96px-3v': (NPID, 3, 64, STL),
}


def _multiview(cfg: Config) -> dict:
    ds = cfg.train_dataloader.dataset
    while 'pipeline' not in ds and 'dataset' in ds:
        ds = ds.dataset
    for t in ds.pipeline:
        if t.get('type') == 'MultiView':
            return t
    raise ValueError('the config\'s train pipeline has no MultiView')


def _preprocessor_cfg(cfg: Config) -> dict:
    pre = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor')
    return copy.deepcopy(dict(pre))


def setting_config(name: str, data_root: str, ann_file: str,
                   base_channels: int = 64) -> Config:
    """The setting's training config (data paths set, backbone narrowed)."""
    if name not in SETTINGS:
        raise ValueError(f'setting must be one of {sorted(SETTINGS)}, got '
                         f'{name!r}')
    config, views, batch, view_source = SETTINGS[name]
    cfg = Config.fromfile(osp.join(REPO, config))
    mv = _multiview(cfg)
    if view_source is not None:
        src = Config.fromfile(osp.join(REPO, view_source))
        mv['transforms'] = copy.deepcopy(_multiview(src)['transforms'])
        cfg.model.data_preprocessor = _preprocessor_cfg(src)
    if views is not None:
        mv['num_views'] = views
    ds = cfg.train_dataloader.dataset
    while 'ann_file' not in ds and 'dataset' in ds:
        ds = ds.dataset
    ds.data_root, ds.ann_file = data_root, ann_file
    cfg.train_dataloader.batch_size = batch
    if base_channels != 64:
        narrow_backbone(cfg.model, base_channels)
    return cfg


def narrow_backbone(model: dict, base_channels: int) -> None:
    """A ResNet with ``base_channels`` in its first stage (necks follow)."""
    backbone = model['backbone']
    old = 512 * (4 if backbone.get('depth', 18) >= 50 else 1)
    new = old * base_channels // 64
    backbone.update(base_channels=base_channels, stem_channels=base_channels)

    def visit(node):
        if isinstance(node, dict):
            if node is not backbone and node.get('in_channels') == old:
                node['in_channels'] = new
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)
    visit(model)


def fast_path(cfg: Config, cache_dir: str):
    """(InMemoryImages dataset, DeviceMultiViewPreprocessor config) of the
    config's data and view pipeline."""
    from mmpretrain.registry import DATASETS
    mv = _multiview(cfg)
    transforms = mv['transforms']
    nums = mv['num_views']
    pre = _preprocessor_cfg(cfg)
    pre.update(type='DeviceMultiViewPreprocessor',
               view_pipeline=copy.deepcopy(transforms[0]
                                           if len(transforms) == 1
                                           else transforms),
               num_views=nums)
    dataset = DATASETS.build(dict(
        type='InMemoryImages', cache_dir=cache_dir,
        dataset=copy.deepcopy(cfg.train_dataloader.dataset.to_dict())))
    return dataset, pre


def fast_images_per_second(loader, preprocessor, batches: int,
                           device: str) -> float:
    """Images/s of the fast path: batch from memory + views on ``device``."""
    it = iter(loader)
    preprocessor(next(it), training=True)      # warm-up
    sync(device)
    start = time.perf_counter()
    for _ in range(batches):
        preprocessor(next(it), training=True)
    sync(device)
    return batches * loader.batch_size / (time.perf_counter() - start)


class StepModel:
    """The setting's model, warmed up once, stepping on any data source.

    The fast path and the mmcv pipeline differ only in the data
    preprocessor, which is swapped in before each source's steps.
    """

    def __init__(self, cfg: Config, bank: int, device: str,
                 fast_preprocessor: dict):
        from mmengine.logging import MessageHub
        from mmengine.optim import build_optim_wrapper
        from mmpretrain.registry import MODELS
        model_cfg = copy.deepcopy(cfg.model.to_dict())
        if 'bank_size' in model_cfg:
            model_cfg['bank_size'] = bank
        torch.manual_seed(0)
        self.model = MODELS.build(model_cfg).to(device).train()
        self.preprocessors = dict(
            mmcv=self.model.data_preprocessor,
            fast=MODELS.build(copy.deepcopy(fast_preprocessor)).to(device))
        self.optim = build_optim_wrapper(self.model,
                                         copy.deepcopy(cfg.optim_wrapper))
        self.hub = MessageHub.get_current_instance()
        self.hub.update_info('max_iters', 100_000)
        self.device, self.iter = device, 0
        self.warm = False

    def step(self, data) -> None:
        self.hub.update_info('iter', self.iter)
        self.model.train_step(data, self.optim)
        self.iter += 1

    def times(self, loader, steps: int, source: str) -> dict:
        """Median end-to-end step (s) and the mean share spent in the
        loader, after one untimed batch (and one untimed step for the first
        source: the model's warm-up)."""
        self.model.data_preprocessor = self.preprocessors[source]
        it = iter(loader)
        first = next(it)                         # starts the workers
        if not self.warm:
            self.step(first)
            self.warm = True
        totals, waits = [], []
        for _ in range(steps):
            sync(self.device)
            t0 = time.perf_counter()
            data = next(it)
            t1 = time.perf_counter()
            self.step(data)
            sync(self.device)
            t2 = time.perf_counter()
            totals.append(t2 - t0)
            waits.append((t1 - t0) / (t2 - t0))
        return dict(step_s=statistics.median(totals),
                    loader_share=statistics.mean(waits))


def run(settings=tuple(SETTINGS), workers=(0, 1, 2), batches=4,
        step_batches=2, ann_file='meta/train_5k.txt', data_root=None,
        base_channels=64, batch=None, device='cpu', cache_dir=None) -> dict:
    from mmengine.registry import init_default_scope

    import cld_mm  # noqa: F401
    from cld_mm.evaluation.features import build_split_dataset
    init_default_scope('mmpretrain')
    data_root = data_root or osp.join(REPO, 'data', 'cifar10')
    cache_dir = cache_dir or osp.join(tempfile.gettempdir(),
                                      'cld_mm_bench_arrays')
    rows = []
    for name in settings:
        cfg = setting_config(name, data_root, ann_file, base_channels)
        if batch is not None:
            cfg.train_dataloader.batch_size = batch
        bs = cfg.train_dataloader.batch_size
        row = dict(setting=name, views=config_views(cfg), batch=bs)
        fast_ds, pre_cfg = fast_path(cfg, cache_dir)
        from mmpretrain.registry import MODELS
        pre = MODELS.build(copy.deepcopy(pre_cfg)).to(device)
        fast_loader = make_loader(cfg, fast_ds, bs, 0)
        row['fast_images_per_s'] = fast_images_per_second(
            fast_loader, pre, batches, device)
        mmcv_ds = build_split_dataset(cfg, 'train')
        for w in workers:
            ips = images_per_second(make_loader(cfg, mmcv_ds, bs, w), batches)
            row[f'mmcv_w{w}_images_per_s'] = ips
            row[f'fast_over_mmcv_w{w}'] = row['fast_images_per_s'] / ips
        if step_batches > 0:
            model = StepModel(cfg, len(fast_ds), device, pre_cfg)
            fast = model.times(make_loader(cfg, fast_ds, bs, 0),
                               step_batches, 'fast')
            row['fast_step_s'] = fast['step_s']
            row['fast_loader_share'] = fast['loader_share']
            # augmentation share of the fast step, from the throughput above
            row['fast_augment_share'] = min(
                1.0, bs / row['fast_images_per_s'] / fast['step_s'])
            for w in workers:
                res = model.times(make_loader(cfg, mmcv_ds, bs, w),
                                  step_batches, 'mmcv')
                row[f'mmcv_w{w}_step_s'] = res['step_s']
                row[f'mmcv_w{w}_wait_share'] = res['loader_share']
                row[f'mmcv_w{w}_step_over_fast'] = (res['step_s']
                                                    / fast['step_s'])
            del model
        rows.append(row)
    return dict(device=device_name(device), workers=list(workers),
                batches=batches, step_batches=step_batches,
                base_channels=base_channels, ann_file=ann_file, rows=rows)


def print_tables(res: dict) -> None:
    ws = res['workers']
    print(f"device: {res['device']}; {res['batches']} timed batches, "
          f"{res['step_batches']} timed steps per setting; ResNet-18 base "
          f"channels {res['base_channels']}")
    print('| setting | views | batch | fast img/s | ' + ' | '.join(
        f'mmcv w={w} img/s | fast / w={w}' for w in ws) + ' |')
    print('|---|---:|---:|---:|' + '---:|---:|' * len(ws))
    for r in res['rows']:
        cells = ' | '.join(f"{r[f'mmcv_w{w}_images_per_s']:.0f} | "
                           f"{r[f'fast_over_mmcv_w{w}']:.2f}" for w in ws)
        print(f"| {r['setting']} | {r['views']} | {r['batch']} | "
              f"{r['fast_images_per_s']:.0f} | {cells} |")
    if not res['step_batches']:
        return
    print('\nend-to-end step (s; share spent on data)')
    print('| setting | fast | ' + ' | '.join(f'mmcv w={w} | w={w} / fast'
                                           for w in ws) + ' |')
    print('|---|---:|' + '---:|---:|' * len(ws))
    for r in res['rows']:
        cells = ' | '.join(
            f"{r[f'mmcv_w{w}_step_s']:.2f} "
            f"({100 * r[f'mmcv_w{w}_wait_share']:.0f}%) | "
            f"{r[f'mmcv_w{w}_step_over_fast']:.2f}" for w in ws)
        print(f"| {r['setting']} | {r['fast_step_s']:.2f} "
              f"({100 * r['fast_augment_share']:.0f}% augmentation) | "
              f"{cells} |")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--settings', nargs='+', default=list(SETTINGS),
                   choices=list(SETTINGS))
    p.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--batches', type=int, default=4,
                   help='timed batches per throughput figure')
    p.add_argument('--step-batches', type=int, default=2,
                   help='timed training steps per data source (0: none)')
    p.add_argument('--batch', type=int, default=None,
                   help='override the settings\' batch sizes')
    p.add_argument('--base-channels', type=int, default=64,
                   help='ResNet-18 width for the step (64: the recipe)')
    p.add_argument('--ann-file', default='meta/train_5k.txt')
    p.add_argument('--data-root', default=None,
                   help='CIFAR-10 folder (default: data/cifar10)')
    p.add_argument('--cache-dir', default=None,
                   help='InMemoryImages cache (default: a temp folder)')
    p.add_argument('--small', action='store_true',
                   help='32px-2v and 96px-3v, batch 4, 1 batch/step, '
                   'workers 0 1, base channels 8')
    add_common_arguments(p)
    args = p.parse_args(argv)
    if args.small:
        args.settings = ['32px-2v', '96px-3v']
        args.workers, args.batches, args.step_batches = [0, 1], 1, 1
        args.batch = args.batch or 4
        args.base_channels = 8
    apply_threads(args.threads)
    res = run(args.settings, args.workers, args.batches, args.step_batches,
              args.ann_file, args.data_root, args.base_channels, args.batch,
              args.device, args.cache_dir)
    print_tables(res)
    if args.json:
        write_json(args.json, res)
    return res


if __name__ == '__main__':
    sys.exit(main() and 0)
