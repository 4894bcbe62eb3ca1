"""Put CIFAR-10 into the folder layout cld_mm's configs read.

Layout (mmpretrain's ``CustomDataset`` with annotation lists)::

    <root>/train/<class>/<NNNN>.jpg       <root>/test/<class>/<NNNN>.jpg
    <root>/meta/train.txt, test.txt       every image, "path label" per line
    <root>/meta/train_5k.txt, test_1k.txt class-balanced subsets (quickstart)

Sources: the shared JPEG tarball (``cifar10_jpg.tar.gz``), or the original
python-pickle batches (``cifar-10-batches-py``: data_batch_1..5, test_batch),
written losslessly as PNG.
"""
import json
import os
import os.path as osp
import pickle
import random
import shutil
import tarfile
import tempfile
from typing import Dict, Optional

import numpy as np

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
SUBSETS = {'train_5k': ('train', 500), 'test_1k': ('test', 100)}
IMG_EXTS = ('.jpg', '.jpeg', '.png')


def _write_binary_batches(src: str, dst: str) -> None:
    import cv2
    names = {'train': [f'data_batch_{i}' for i in range(1, 6)],
             'test': ['test_batch']}
    for split, files in names.items():
        counts = [0] * 10
        for name in files:
            path = osp.join(src, name)
            if not osp.exists(path):
                raise FileNotFoundError(f'CIFAR-10 batch file missing: {path}')
            with open(path, 'rb') as f:
                batch = pickle.load(f, encoding='latin1')
            data = np.asarray(batch['data'], dtype=np.uint8)
            imgs = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            for img, label in zip(imgs, batch['labels']):
                folder = osp.join(dst, split, CIFAR10_CLASSES[label])
                os.makedirs(folder, exist_ok=True)
                cv2.imwrite(osp.join(folder, f'{counts[label]:04d}.png'),
                            img[:, :, ::-1])
                counts[label] += 1


def write_annotations(root: str, subsets: Optional[Dict] = None,
                      seed: int = 0) -> Dict[str, int]:
    """Write meta/<split>.txt lists (and class-balanced subsets).

    Returns:
        dict: number of lines written per list file.
    """
    subsets = SUBSETS if subsets is None else subsets
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    sizes = {}
    per_split = {}
    for split in ('train', 'test'):
        per_class = []
        for label, cls in enumerate(CIFAR10_CLASSES):
            folder = osp.join(root, split, cls)
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'expected class folder {folder} (CIFAR-10 folder layout)')
            files = sorted(f for f in os.listdir(folder)
                           if f.lower().endswith(IMG_EXTS))
            per_class.append([(f'{split}/{cls}/{f}', label) for f in files])
        per_split[split] = per_class
        lines = [item for items in per_class for item in items]
        sizes[split] = _write_list(osp.join(root, 'meta', f'{split}.txt'), lines)
    rng = random.Random(seed)
    for name, (split, per_cls) in subsets.items():
        lines = []
        for items in per_split[split]:
            if len(items) < per_cls:
                raise ValueError(f'subset {name} wants {per_cls} images per '
                                 f'class, a class has {len(items)}')
            lines += sorted(rng.sample(items, per_cls))
        sizes[name] = _write_list(osp.join(root, 'meta', f'{name}.txt'), lines)
    return sizes


def _write_list(path: str, lines) -> int:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.writelines(f'{p} {y}\n' for p, y in lines)
    os.replace(tmp, path)
    return len(lines)


def prepare_cifar10_folder(root: str, tar: Optional[str] = None,
                           batches: Optional[str] = None,
                           subsets: Optional[Dict] = None) -> Dict[str, int]:
    """Create ``root`` in the folder layout once; a no-op when it is complete.

    Args:
        root (str): destination folder.
        tar (str, optional): the JPEG tarball with train/ and test/ folders.
        batches (str, optional): folder of the original python batches.
        subsets (dict, optional): ``{name: (split, per_class)}`` lists to
            write besides train/test. Defaults to 5k train / 1k test.

    Returns:
        dict: lines per annotation file.
    """
    done = osp.join(root, 'meta', '.complete')
    if osp.exists(done):
        with open(done) as f:
            sizes = json.load(f)
        if subsets is None or set(subsets) <= set(sizes):
            return sizes
    if not osp.isdir(osp.join(root, 'train')):
        if (tar is None) == (batches is None):
            raise ValueError('give exactly one source: tar= or batches=')
        src = tar if tar is not None else batches
        if not osp.exists(src):
            raise FileNotFoundError(f'CIFAR-10 source not found: {src}')
        parent = osp.dirname(osp.abspath(root))
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix='.cifar10-')
        try:
            if tar is not None:
                with tarfile.open(tar) as t:
                    t.extractall(tmp, filter='data')
            else:
                _write_binary_batches(batches, tmp)
            os.makedirs(root, exist_ok=True)
            for split in ('train', 'test'):
                os.replace(osp.join(tmp, split), osp.join(root, split))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    sizes = write_annotations(root, subsets)
    with open(done, 'w') as f:
        json.dump(sizes, f)
    return sizes
