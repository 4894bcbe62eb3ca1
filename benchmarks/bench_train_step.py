"""Train-step time of each algorithm against its base, on one device.

    python benchmarks/bench_train_step.py [--batch 64] [--size 32]
        [--backbone config|resnet18-cifar|resnet50-cifar|resnet18|resnet50]
        [--amp] [--device cpu] [--warmup 2] [--reps 5] [--threads N]
        [--pair NAME CONFIG_A CONFIG_B ...] [--json OUT.json]
    python benchmarks/bench_train_step.py --gpu-preset  # R50 bs256 224px AMP

A step is ``model.train_step`` of the real algorithm built from its config's
``model`` dict (data preprocessing, forward, backward and the config's
optimizer step) on a synthetic batch with the config's number of views.
Both models of a pair get the same backbone, batch and input size; their
steps are timed alternately (``--reps`` rounds after ``--warmup``), and the
ratio of the medians is printed. Hooks (e.g. SMoG's periodic re-clustering)
do not run. A pair whose config is missing is reported, not timed.
"""
import argparse
import copy
import glob
import statistics
import sys
import time

import torch
from mmengine.config import Config

from common import (
    add_common_arguments,
    apply_threads,
    config_views,
    device_name,
    sync,
    write_json,
)

# (name, config A, config B); a glob pattern resolves to its first match
DEFAULT_PAIRS = [
    ('NPID+CLD / NPID',
     'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py',
     'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('MoCoCLD / MoCo',
     'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py',
     'configs/moco/moco_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('BYOLCLD / BYOL',
     'configs/cld/byol-cld_resnet18_1xb256-coslr-200e_cifar10.py',
     'configs/byol/byol_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('SMoG / BYOL',
     'configs/smog/smog_resnet18_1xb128-coslr-200e_cifar10.py',
     'configs/byol/byol_resnet18_1xb256-coslr-200e_cifar10.py'),
]
BACKBONES = {'resnet18-cifar': ('ResNet_CIFAR', 18, 512),
             'resnet50-cifar': ('ResNet_CIFAR', 50, 2048),
             'resnet18': ('ResNet', 18, 512),
             'resnet50': ('ResNet', 50, 2048)}


def resolve(pattern: str):
    """The first file matching ``pattern`` (sorted), or None."""
    hits = sorted(glob.glob(pattern))
    return hits[0] if hits else None


def _replace_in_channels(node, old: int, new: int):
    if isinstance(node, dict):
        return {k: (new if k == 'in_channels' and v == old
                    else _replace_in_channels(v, old, new))
                for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_replace_in_channels(v, old, new) for v in node)
    return node


def swap_backbone(model_cfg: dict, backbone: str) -> dict:
    """``model_cfg`` with another ResNet; heads' ``in_channels`` follow."""
    if backbone == 'config':
        return model_cfg
    if backbone not in BACKBONES:
        raise ValueError(f'backbone must be config or one of '
                         f'{sorted(BACKBONES)}, got {backbone!r}')
    kind, depth, out = BACKBONES[backbone]
    old = model_cfg['backbone']
    old_out = 2048 if int(old.get('depth', 18)) >= 50 else 512
    rest = {k: v for k, v in model_cfg.items() if k != 'backbone'}
    rest = _replace_in_channels(rest, old_out, out)
    rest['backbone'] = dict(old, type=kind, depth=depth)
    return rest


class StepRunner:
    """One algorithm from a config, ready to take synthetic train steps."""

    def __init__(self, config: str, backbone: str, batch: int, size: int,
                 device: str, amp: bool):
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import init_default_scope
        from mmpretrain.registry import MODELS

        import cld_mm  # noqa: F401
        cfg = Config.fromfile(config)
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        model_cfg = swap_backbone(copy.deepcopy(cfg.model.to_dict()),
                                  backbone)
        if 'data_preprocessor' not in model_cfg and 'data_preprocessor' in cfg:
            model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
        self.model = MODELS.build(model_cfg).to(device).train()
        optim_cfg = copy.deepcopy(cfg.optim_wrapper)
        if amp:
            # float16 on CUDA, bfloat16 on CPU (cld_mm.engine.step_options)
            optim_cfg.type = 'MixedPrecisionOptimWrapper'
            optim_cfg.setdefault('loss_scale', 'dynamic')
        self.optim = build_optim_wrapper(self.model, optim_cfg)
        self.bank = int(getattr(self.model, 'bank_size', 0)) or None
        self.batch, self.step_no = batch, 0
        self.views = config_views(cfg)
        gen = torch.Generator().manual_seed(0)
        self.images = [torch.randint(0, 256, (batch, 3, size, size),
                                     dtype=torch.uint8, generator=gen)
                       for _ in range(self.views)]

    def step(self) -> None:
        from mmengine.logging import MessageHub
        from mmpretrain.structures import DataSample
        hub = MessageHub.get_current_instance()   # read by momentum (EMA)
        hub.update_info('iter', self.step_no)     # schedules such as BYOL's
        hub.update_info('max_iters', 100_000)
        start = self.step_no * self.batch
        idx = [(start + i) % (self.bank or 1 << 30) for i in range(self.batch)]
        samples = [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(i % 10)
                   for i in idx]
        self.model.train_step(dict(inputs=list(self.images),
                                   data_samples=samples), self.optim)
        self.step_no += 1


def time_pair(a: StepRunner, b: StepRunner, warmup: int, reps: int,
              device: str) -> dict:
    """Alternate the two models' steps; medians in seconds and A/B ratio."""
    for _ in range(warmup):
        a.step()
        b.step()
    ta, tb = [], []
    for _ in range(reps):
        for runner, times in ((a, ta), (b, tb)):
            sync(device)
            t0 = time.perf_counter()
            runner.step()
            sync(device)
            times.append(time.perf_counter() - t0)
    ma, mb = statistics.median(ta), statistics.median(tb)
    return dict(a_s=ma, b_s=mb, ratio=ma / mb, a_views=a.views,
                b_views=b.views)


def run(pairs, backbone='resnet18-cifar', batch=64, size=32, device='cpu',
        amp=False, warmup=2, reps=5) -> dict:
    rows = []
    for name, pat_a, pat_b in pairs:
        cfg_a, cfg_b = resolve(pat_a), resolve(pat_b)
        row = dict(pair=name, config_a=cfg_a or pat_a, config_b=cfg_b or pat_b)
        missing = [p for p, c in ((pat_a, cfg_a), (pat_b, cfg_b)) if c is None]
        if missing:
            row['missing'] = missing
        else:
            runners = [StepRunner(c, backbone, batch, size, device, amp)
                       for c in (cfg_a, cfg_b)]
            row.update(time_pair(*runners, warmup, reps, device))
            del runners
        rows.append(row)
    return dict(device=device_name(device), backbone=backbone, batch=batch,
                size=size, amp=amp, warmup=warmup, reps=reps, rows=rows)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--size', type=int, default=32, help='input size (px)')
    p.add_argument('--backbone', default='resnet18-cifar',
                   choices=['config', *BACKBONES])
    p.add_argument('--amp', action='store_true',
                   help='mixed precision (fp16 on CUDA, bf16 on CPU)')
    p.add_argument('--gpu-preset', action='store_true',
                   help='cuda, resnet50, batch 256, 224 px, AMP')
    p.add_argument('--pair', nargs=3, action='append',
                   metavar=('NAME', 'CONFIG_A', 'CONFIG_B'),
                   help='time CONFIG_A against CONFIG_B (repeatable; '
                   'replaces the default pairs)')
    add_common_arguments(p)
    args = p.parse_args(argv)
    apply_threads(args.threads)
    if args.gpu_preset:
        args.device, args.backbone, args.batch, args.size, args.amp = (
            'cuda', 'resnet50', 256, 224, True)
        torch.backends.cudnn.benchmark = True
    res = run([tuple(x) for x in args.pair] if args.pair else DEFAULT_PAIRS,
              args.backbone, args.batch, args.size, args.device, args.amp,
              args.warmup, args.reps)
    print(f"device: {res['device']}; {args.backbone}, batch {args.batch}, "
          f"{args.size} px, amp={args.amp}; median of {args.reps} steps "
          f"after {args.warmup} warm-up")
    print('| pair | A ms/step | B ms/step | A / B | views A, B |')
    print('|---|---:|---:|---:|---|')
    for r in res['rows']:
        if 'missing' in r:
            print(f"| {r['pair']} | - | - | - | missing: "
                  f"{', '.join(r['missing'])} |")
            continue
        print(f"| {r['pair']} | {1e3 * r['a_s']:.0f} | {1e3 * r['b_s']:.0f} "
              f"| {r['ratio']:.2f} | {r['a_views']}, {r['b_views']} |")
    if args.json:
        write_json(args.json, res)
    return res


if __name__ == '__main__':
    sys.exit(main() and 0)
