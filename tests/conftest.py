"""Shared fixtures: seeded RNG, the real CIFAR-10 from ../shared, tiny configs."""
import os
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import cld_mm  # noqa: F401

from utils import write_subset

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


@pytest.fixture(scope='session')
def cifar_slice(cifar10_root):
    """(root, train_ann 80 imgs, test_ann 40 imgs) for Runner tests."""
    return (cifar10_root, write_subset(cifar10_root, 'train', 8, 'train_t80'),
            write_subset(cifar10_root, 'test', 4, 'test_t40'))


@pytest.fixture(scope='session')
def cifar_t20(cifar_slice):
    """(root, train_ann 20 imgs, test_ann 40 imgs): the 20-image Runner
    recipe (2 iterations per epoch at batch 8, see tests/utils.py)."""
    root, _, test_ann = cifar_slice
    return root, write_subset(root, 'train', 2, 'train_t20'), test_ann


@pytest.fixture(scope='session')
def backbone_ckpts(tmp_path_factory, cifar_slice):
    """{'r50': (raw, extracted), 'cifar': (raw, extracted)}: backbones of
    2-iteration NPID runs, for the transfer tests (tests/transfer_utils.py)."""
    from transfer_utils import pretrain_backbone
    out = str(tmp_path_factory.getbasetemp() / 'transfer_pretrain')
    return dict(r50=pretrain_backbone(out, cifar_slice, True),
                cifar=pretrain_backbone(out, cifar_slice, False))
