"""Check a lite install (``tools/install/install.sh --lite``): it trains.

Run with the lite environment's Python, from anywhere::

    python tools/install/check_lite.py [--tar CIFAR10_JPG_TAR] [--iters 2]

1. The environment is a lite one: mmcv has no compiled ops and neither mmdet
   nor mmsegmentation is installed.
2. ``tools/train.py`` trains NPID (``configs/npid/..._cifar10.py``, the shipped
   architecture, pipeline and loss; only data, batch and schedule shrink) for
   ``--iters`` iterations on 4 real CIFAR-10 images per class taken from the
   JPEG tarball, and writes a checkpoint; the log must show a finite loss
   for every iteration and no warning.
3. ``tools/train.py`` with a detection config exits with the error that
   names the full install.

Exit status 0 when all hold; the reason otherwise.
"""
import argparse
import importlib.util
import json
import math
import os
import os.path as osp
import subprocess
import sys
import tarfile
import tempfile

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py'
DET_CONFIG = ('configs/benchmarks/mmdetection/voc0712/'
              'faster-rcnn_r50-syncbn-c4_8xb2-24k_voc0712.py')
DEFAULT_TAR = osp.join(REPO, '..', 'shared', 'data', 'cifar10_jpg.tar.gz')
CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
           'horse', 'ship', 'truck')


def fail(msg: str):
    sys.exit(f'check_lite: FAILED: {msg}')


def check_lite_environment() -> None:
    try:
        ext = importlib.util.find_spec('mmcv._ext')
    except ModuleNotFoundError:
        fail('mmcv is not installed')
    if ext is not None:
        fail('mmcv has compiled ops: this is not a lite install')
    for lib in ('mmdet', 'mmseg'):
        if importlib.util.find_spec(lib) is not None:
            fail(f'{lib} is installed: the lite install leaves it out')


def write_subset(tar_path: str, root: str, per_class: int) -> int:
    """Extract ``per_class`` training JPEGs per class; write meta/train.txt."""
    if not osp.exists(tar_path):
        fail(f'CIFAR-10 tarball not found: {tar_path} (use --tar)')
    wanted = {c: [] for c in CLASSES}
    with tarfile.open(tar_path) as tar:
        for member in tar:
            parts = member.name.split('/')
            if (member.isfile() and len(parts) >= 3 and parts[-3] == 'train'
                    and parts[-2] in wanted
                    and len(wanted[parts[-2]]) < per_class):
                dst = osp.join(root, 'train', parts[-2], parts[-1])
                os.makedirs(osp.dirname(dst), exist_ok=True)
                with tar.extractfile(member) as src, open(dst, 'wb') as f:
                    f.write(src.read())
                wanted[parts[-2]].append(parts[-1])
            if all(len(v) == per_class for v in wanted.values()):
                break
    lines = [f'train/{c}/{f} {i}\n' for i, c in enumerate(CLASSES)
             for f in sorted(wanted[c])]
    if len(lines) != per_class * len(CLASSES):
        fail(f'{tar_path} has fewer than {per_class} training images a class')
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    with open(osp.join(root, 'meta', 'train.txt'), 'w') as f:
        f.writelines(lines)
    return len(lines)


def train(root: str, work_dir: str, n_images: int, iters: int) -> None:
    batch = n_images // iters
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
           osp.join(REPO, CONFIG), '--work-dir', work_dir, '--no-validate',
           '--cfg-options',
           f'train_dataloader.dataset.data_root={root}',
           'train_dataloader.dataset.ann_file=meta/train.txt',
           f'train_dataloader.batch_size={batch}',
           'train_dataloader.num_workers=0',
           'train_dataloader.persistent_workers=False',
           f'model.bank_size={n_images}', 'train_cfg.max_epochs=1',
           'default_hooks.logger.interval=1', 'randomness.seed=0']
    env = dict(os.environ, PYTHONWARNINGS='default::UserWarning')
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work_dir,
                          env=env)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        fail(f'training exited with {proc.returncode}:\n{out[-3000:]}')
    warned = [ln for ln in out.splitlines() if 'Warning' in ln]
    if warned:
        fail('training printed warnings:\n' + '\n'.join(warned))
    logs = [osp.join(d, f) for d, _, fs in os.walk(work_dir) for f in fs
            if f == 'scalars.json']
    if len(logs) != 1:
        fail(f'expected one scalars.json under {work_dir}, found {logs}')
    with open(logs[0]) as f:
        losses = [json.loads(ln)['loss'] for ln in f if '"loss"' in ln]
    if len(losses) != iters or not all(math.isfinite(v) for v in losses):
        fail(f'expected {iters} finite losses, got {losses}')
    if not osp.exists(osp.join(work_dir, 'epoch_1.pth')):
        fail('no checkpoint epoch_1.pth written')
    print(f'check_lite: trained {iters} iterations, losses {losses}')


def detection_needs_full_install(work_dir: str) -> None:
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
           osp.join(REPO, DET_CONFIG), '--work-dir', work_dir]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work_dir)
    if proc.returncode == 0 or 'full install' not in proc.stderr or \
            'install.sh' not in proc.stderr:
        fail('a detection config did not stop with the full-install error '
             f'(exit {proc.returncode}):\n{proc.stderr[-2000:]}')
    print('check_lite: detection config refused: '
          + proc.stderr.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(
        description='Check that a lite install trains (see module docstring)')
    parser.add_argument('--tar', default=os.environ.get('CLD_MM_CIFAR_TAR',
                                                        DEFAULT_TAR),
                        help='CIFAR-10 JPEG tarball (default: %(default)s)')
    parser.add_argument('--iters', type=int, default=2,
                        help='training iterations (default: %(default)s)')
    parser.add_argument('--per-class', type=int, default=4,
                        help='training images per class (default: '
                        '%(default)s)')
    args = parser.parse_args()
    check_lite_environment()
    with tempfile.TemporaryDirectory(prefix='cld_mm_lite_') as tmp:
        n = write_subset(args.tar, osp.join(tmp, 'data'), args.per_class)
        os.makedirs(osp.join(tmp, 'work'))
        train(osp.join(tmp, 'data'), osp.join(tmp, 'work'), n, args.iters)
        os.makedirs(osp.join(tmp, 'det'))
        detection_needs_full_install(osp.join(tmp, 'det'))
    print('check_lite: OK')


if __name__ == '__main__':
    main()
