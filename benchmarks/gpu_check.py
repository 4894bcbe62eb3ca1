"""GPU checks of cld_mm: one step per algorithm against CPU, the fast path's
step rate against synthetic batches, NPID+CLD CIFAR-10 epochs at batch 256.

    python benchmarks/gpu_check.py [--device cuda] [--amp bf16]
        [--epochs 2] [--steps 30] [--json OUT.json]
    python benchmarks/gpu_check.py --dry-run    # device cpu, tiny sizes

Run by ``benchmarks/gpu_check.sh`` after it has installed the stack.

1. **Step parity**: for every CIFAR-10 recipe (NPID, NPID+CLD, MoCo,
   MoCo+CLD, BYOL, BYOL+CLD, SMoG) the model is built once on the CPU
   (seeded), copied to the device, and both copies take one ``train_step``
   on the same batch of views (TF32 off). Printed: the loss on each, their
   relative difference, and the largest parameter difference after the step
   relative to the largest parameter change of the step (0 = identical).
2. **Fast path vs synthetic batches**: NPID+CLD with the fast path
   (uint8 images resident on the device, views drawn by
   ``DeviceMultiViewPreprocessor`` from the recipe's view pipeline) against
   the same model fed ready-made normalized views (no augmentation at all):
   steps/s of each and their ratio.
3. **Epochs**: NPID+CLD CIFAR-10 at batch 256 with the fast path over a
   device-resident uint8 array of 50,000 images (the decoded CIFAR-10 when
   ``--cifar-npy`` names an ``InMemoryImages`` array, else random pixels,
   which cost the same): seconds per epoch (a ``train_step`` loop: no
   Runner hooks, no kNN evaluation) and the projected 200-epoch time.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import sys
import time
import traceback

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ALGORITHMS = [
    ('NPID', 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('NPID+CLD', 'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('MoCo', 'configs/moco/moco_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('MoCo+CLD', 'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('BYOL', 'configs/byol/byol_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('BYOL+CLD', 'configs/cld/byol-cld_resnet18_1xb256-coslr-200e_cifar10.py'),
    ('SMoG', 'configs/smog/smog_resnet18_1xb128-coslr-200e_cifar10.py'),
]
NPID_CLD = ALGORITHMS[1][1]


def sync(device: str) -> None:
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def plain_bn(node):
    """SyncBN -> BN everywhere (one process, no group to sync with)."""
    if isinstance(node, dict):
        return {k: ('BN' if k == 'type' and v == 'SyncBN' else plain_bn(v))
                for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(plain_bn(v) for v in node)
    return node


def narrow(model: dict, base_channels: int) -> dict:
    """Narrow the ResNet (tiny dry runs); necks' ``in_channels`` follow."""
    if base_channels == 64:
        return model
    old, new = 512, 512 * base_channels // 64

    def visit(node, top=False):
        if isinstance(node, dict):
            out = {k: visit(v) for k, v in node.items()}
            if not top and out.get('in_channels') == old:
                out['in_channels'] = new
            return out
        if isinstance(node, (list, tuple)):
            return type(node)(visit(v) for v in node)
        return node
    backbone = dict(model['backbone'], base_channels=base_channels,
                    stem_channels=base_channels)
    out = visit({k: v for k, v in model.items() if k != 'backbone'}, True)
    out['backbone'] = backbone
    return out


def load(config: str):
    from mmengine.config import Config
    return Config.fromfile(osp.join(REPO, config))


def model_cfg(cfg, bank: int, base_channels: int, fast: bool = False) -> dict:
    m = plain_bn(copy.deepcopy(cfg.model.to_dict()))
    if 'data_preprocessor' not in m and 'data_preprocessor' in cfg:
        m['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    if 'bank_size' in m:
        m['bank_size'] = bank
    if fast:
        ds = cfg.train_dataloader.dataset
        while 'pipeline' not in ds:
            ds = ds.dataset
        mv = [t for t in ds.pipeline if t['type'] == 'MultiView'][0]
        tr = mv['transforms']
        m['data_preprocessor'] = dict(
            m['data_preprocessor'], type='DeviceMultiViewPreprocessor',
            view_pipeline=copy.deepcopy(tr[0] if len(tr) == 1 else tr),
            num_views=mv['num_views'])
    return narrow(m, base_channels)


def build(cfg, mcfg: dict, device: str, amp=None):
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(mcfg)).to(device).train()
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        optim_cfg.type = 'MixedPrecisionOptimWrapper'
        optim_cfg.dtype = amp
    return model, build_optim_wrapper(model, optim_cfg)


def samples(start: int, n: int, bank: int):
    from mmpretrain.structures import DataSample
    return [DataSample(metainfo=dict(sample_idx=(start + i) % bank))
            .set_gt_label((start + i) % 10) for i in range(n)]


def views_of(cfg) -> int:
    ds = cfg.train_dataloader.dataset
    while 'pipeline' not in ds:
        ds = ds.dataset
    n = [t for t in ds.pipeline if t['type'] == 'MultiView'][0]['num_views']
    return int(sum(n)) if isinstance(n, (list, tuple)) else int(n)


def set_iter(i: int) -> None:
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', i)
    hub.update_info('max_iters', 100_000)


def step_parity(device: str, batch: int, size: int, base: int) -> list:
    """One train step per algorithm on CPU and on ``device``."""
    from mmengine.optim import build_optim_wrapper
    rows = []
    for name, config in ALGORITHMS:
        try:
            cfg = load(config)
            mcfg = model_cfg(cfg, 4 * batch, base)
            gen = torch.Generator().manual_seed(1)
            views = [torch.randint(0, 256, (batch, 3, size, size),
                                   generator=gen).float()
                     for _ in range(views_of(cfg))]
            out = {}
            seeded = build(cfg, mcfg, 'cpu')[0]
            for dev in ('cpu', device):
                model = copy.deepcopy(seeded).to(dev)
                optim = build_optim_wrapper(model,
                                            copy.deepcopy(cfg.optim_wrapper))
                before = {k: p.detach().cpu().clone()
                          for k, p in model.named_parameters()}
                set_iter(0)
                log = model.train_step(
                    dict(inputs=[v.to(dev) for v in views],
                         data_samples=samples(0, batch, 4 * batch)), optim)
                after = {k: p.detach().cpu().clone()
                         for k, p in model.named_parameters()}
                out[dev] = (log['loss'].item(), before, after)
            (l0, b0, a0), (l1, _, a1) = out['cpu'], out[device]
            change = max(float((a0[k] - b0[k]).abs().max()) for k in a0)
            diff = max(float((a0[k] - a1[k]).abs().max()) for k in a0)
            rel_loss = abs(l0 - l1) / max(abs(l0), 1e-12)
            rows.append(dict(algorithm=name, loss_cpu=l0, loss_device=l1,
                             loss_rel_diff=rel_loss,
                             param_diff_over_change=diff / max(change, 1e-30),
                             ok=rel_loss < 1e-3 and diff <= 0.05 * change))
        except Exception as e:  # report, go on with the next algorithm
            traceback.print_exc()
            rows.append(dict(algorithm=name, error=repr(e), ok=False))
    return rows


def fast_vs_synthetic(device: str, batch: int, steps: int, base: int,
                      amp=None) -> dict:
    """Steps/s of NPID+CLD with the fast path vs ready-made views."""
    cfg = load(NPID_CLD)
    n_images = 50_000 if batch >= 64 else 8 * batch
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n_images, 3, 32, 32), dtype=torch.uint8,
                           generator=gen).to(device)
    res = {}
    for kind in ('synthetic', 'fast'):
        mcfg = model_cfg(cfg, n_images, base, fast=kind == 'fast')
        model, optim = build(cfg, mcfg, device, amp)
        views = [torch.randn(batch, 3, 32, 32, device=device) * 60 + 120
                 for _ in range(2)]

        def data(i):
            idx = torch.randint(n_images, (batch, ), device=device)
            if kind == 'fast':
                return dict(inputs=images[idx],
                            data_samples=samples(i * batch, batch, n_images))
            return dict(inputs=views,
                        data_samples=samples(i * batch, batch, n_images))
        for i in range(3):                       # warm-up (cudnn autotune)
            set_iter(i)
            model.train_step(data(i), optim)
        sync(device)
        t0 = time.perf_counter()
        for i in range(steps):
            set_iter(3 + i)
            model.train_step(data(3 + i), optim)
        sync(device)
        res[f'{kind}_steps_per_s'] = steps / (time.perf_counter() - t0)
        del model, optim
    res['fast_over_synthetic'] = (res['fast_steps_per_s']
                                  / res['synthetic_steps_per_s'])
    res.update(batch=batch, steps=steps, amp=amp)
    return res


def epochs(device: str, batch: int, n_epochs: int, base: int, amp=None,
           cifar_npy=None, n_images: int = 50_000) -> dict:
    """Seconds per NPID+CLD epoch, fast path, device-resident images."""
    import numpy as np
    cfg = load(NPID_CLD)
    if cifar_npy:
        images = torch.from_numpy(np.load(cifar_npy, mmap_mode='r')[:])
        source = cifar_npy
    else:
        gen = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (n_images, 3, 32, 32),
                               dtype=torch.uint8, generator=gen)
        source = 'random pixels'
    images = images.to(device)
    n = images.shape[0]
    model, optim = build(cfg, model_cfg(cfg, n, base, fast=True), device, amp)
    iters = n // batch
    set_iter(0)
    model.train_step(dict(inputs=images[:batch],
                          data_samples=samples(0, batch, n)), optim)
    times = []
    step = 1
    for _ in range(n_epochs):
        perm = torch.randperm(n, device=device)
        sync(device)
        t0 = time.perf_counter()
        for it in range(iters):
            idx = perm[it * batch:(it + 1) * batch]
            set_iter(step)
            from mmpretrain.structures import DataSample
            data_samples = [DataSample(metainfo=dict(sample_idx=int(j)))
                            for j in idx.tolist()]
            model.train_step(dict(inputs=images[idx],
                                  data_samples=data_samples), optim)
            step += 1
        sync(device)
        times.append(time.perf_counter() - t0)
    per_epoch = min(times)
    return dict(images=n, source=source, batch=batch, iters_per_epoch=iters,
                epoch_s=times, amp=amp, projected_200_epochs_min=(
                    200 * per_epoch * 50_000 / n / 60))


def environment(device: str) -> dict:
    info = dict(python=platform.python_version(), torch=torch.__version__,
                cuda=torch.version.cuda, device=device)
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
    for mod in ('mmengine', 'mmcv', 'mmpretrain', 'kornia', 'numpy'):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as e:  # pragma: no cover - depends on the machine
            info[mod] = f'missing ({e!r})'
    return info


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default=None,
                   help='default: cuda (cpu with --dry-run)')
    p.add_argument('--dry-run', action='store_true',
                   help='cpu, batch 8, 8 px parity, narrow backbone, tiny '
                   'epochs: runs every section in seconds')
    p.add_argument('--amp', default=None, choices=['bf16', 'fp16'],
                   help='also time sections 2 and 3 in mixed precision')
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--steps', type=int, default=30)
    p.add_argument('--sections', nargs='+', default=['parity', 'fast',
                                                     'epochs'],
                   choices=['parity', 'fast', 'epochs'])
    p.add_argument('--cifar-npy', default=None,
                   help='InMemoryImages array of CIFAR-10 (.npy) for epochs')
    p.add_argument('--json', default=None)
    args = p.parse_args(argv)
    dry = args.dry_run
    device = args.device or ('cpu' if dry else 'cuda')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit('gpu_check: CUDA is not available to torch '
                         f'{torch.__version__} (use --dry-run on a CPU)')
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    from mmengine.registry import init_default_scope

    import cld_mm  # noqa: F401
    init_default_scope('mmpretrain')
    base = 8 if dry else 64
    res = dict(environment=environment(device), dry_run=dry)
    print(json.dumps(res['environment']))
    if 'parity' in args.sections:
        res['parity'] = step_parity(device, 8 if dry else 64,
                                    8 if dry else 32, base)
        print('| algorithm | loss cpu | loss device | rel. diff | '
              'param diff / step change | ok |')
        print('|---|---:|---:|---:|---:|---|')
        for r in res['parity']:
            if 'error' in r:
                print(f"| {r['algorithm']} | error: {r['error']} |")
                continue
            print(f"| {r['algorithm']} | {r['loss_cpu']:.5f} | "
                  f"{r['loss_device']:.5f} | {r['loss_rel_diff']:.1e} | "
                  f"{r['param_diff_over_change']:.1e} | {r['ok']} |")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    precisions = [None] + ([args.amp] if args.amp else [])
    if 'fast' in args.sections:
        res['fast'] = []
        for amp in precisions:
            r = fast_vs_synthetic(device, 8 if dry else 256,
                                  2 if dry else args.steps, base, amp)
            res['fast'].append(r)
            print(f"fast path vs synthetic (NPID+CLD, batch {r['batch']}, "
                  f"amp={amp}): {r['fast_steps_per_s']:.2f} vs "
                  f"{r['synthetic_steps_per_s']:.2f} steps/s = "
                  f"{100 * r['fast_over_synthetic']:.0f}%")
    if 'epochs' in args.sections:
        res['epochs'] = []
        for amp in precisions:
            r = epochs(device, 8 if dry else 256, 1 if dry else args.epochs,
                       base, amp, args.cifar_npy, 32 if dry else 50_000)
            res['epochs'].append(r)
            print(f"NPID+CLD epochs ({r['images']} images, {r['source']}, "
                  f"batch {r['batch']}, amp={amp}): "
                  + ', '.join(f'{t:.1f} s' for t in r['epoch_s'])
                  + f"; 200 epochs ~ {r['projected_200_epochs_min']:.1f} min")
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    failed = [r['algorithm'] for r in res.get('parity', []) if not r['ok']]
    if failed:
        print('step parity failed for: ' + ', '.join(failed))
    return res


if __name__ == '__main__':
    sys.exit(1 if any(not r['ok'] for r in main().get('parity', [])) else 0)
