"""Shared fixtures: seeded RNG, the real CIFAR-10 from ../shared, tiny configs."""
import os
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import cld_mm  # noqa: F401

init_default_scope('mmpretrain')

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_TAR = osp.join(REPO, '..', 'shared', 'data', 'cifar10_jpg.tar.gz')
CIFAR_ROOT = os.environ.get('CLD_MM_CIFAR10', osp.join(REPO, 'data', 'cifar10'))


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope='session')
def cifar10_root():
    """The shared CIFAR-10 in folder layout, unpacked once into data/cifar10."""
    from cld_mm.datasets import prepare_cifar10_folder
    if not osp.exists(osp.join(CIFAR_ROOT, 'meta', '.complete')):
        assert osp.exists(SHARED_TAR), f'shared CIFAR-10 missing: {SHARED_TAR}'
        prepare_cifar10_folder(CIFAR_ROOT, tar=SHARED_TAR)
    return CIFAR_ROOT


def write_subset(root: str, split: str, per_class: int, name: str) -> str:
    """A class-balanced annotation list of the first ``per_class`` images."""
    from cld_mm.datasets.cifar_folder import CIFAR10_CLASSES
    lines = []
    for label, cls in enumerate(CIFAR10_CLASSES):
        files = sorted(os.listdir(osp.join(root, split, cls)))[:per_class]
        lines += [f'{split}/{cls}/{f} {label}\n' for f in files]
    path = osp.join(root, 'meta', f'{name}.txt')
    if not osp.exists(path):
        tmp = f'{path}.{os.getpid()}'
        with open(tmp, 'w') as f:
            f.writelines(lines)
        os.replace(tmp, path)
    return f'meta/{name}.txt'


@pytest.fixture(scope='session')
def cifar_slice(cifar10_root):
    """(root, train_ann 80 imgs, test_ann 40 imgs) for Runner tests."""
    return (cifar10_root, write_subset(cifar10_root, 'train', 8, 'train_t80'),
            write_subset(cifar10_root, 'test', 4, 'test_t40'))
