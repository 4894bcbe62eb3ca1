"""Every config under configs/ loads and builds its model.

Benchmark (downstream evaluation) configs, under configs/benchmarks/ and any
other ``benchmarks/`` folder, are left to their own tests.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if not {'_base_', 'benchmarks'} & set(osp.relpath(p, REPO).split(osp.sep)))


def test_configs_found():
    assert 'configs/cld/mocov2_cld_r50.py' in CONFIGS
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    assert cfg.custom_imports['imports'] == ['cld_mm']
    model = MODELS.build(cfg.model)
    assert hasattr(model, 'backbone')
    if 'cld' in path.split(osp.sep)[-1].split('_')[0]:
        assert hasattr(model, 'cld') and model.cld.num_clusters >= 1


def _cfg(path):
    return Config.fromfile(osp.join(REPO, path))


def test_authors_hyper_parameters():
    c = _cfg('configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py')
    assert (c.model.cld.num_clusters, c.model.cld.temperature,
            c.model.cld.weight) == (128, 0.2, 1.0)
    assert c.optim_wrapper.optimizer.weight_decay == 7e-4
    assert c.train_dataloader.batch_size == 256
    c = _cfg('configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar100.py')
    assert c.model.cld.num_clusters == 200
    c = _cfg('configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py')
    assert (c.model.cld.num_clusters, c.model.cld.weight, c.model.queue_len,
            c.model.head.temperature) == (200, 0.8, 12288, 0.07)
    assert c.optim_wrapper.optimizer.weight_decay == 8e-4
    assert c.train_dataloader.dataset.pipeline[1].num_views == 3
    c = _cfg('configs/cld/moco-cld_resnet18_1xb128-coslr-200e_cifar100.py')
    assert (c.model.cld.num_clusters, c.model.cld.weight, c.model.queue_len,
            c.train_dataloader.batch_size) == (100, 0.25, 4096, 128)
    c = _cfg('configs/cld/mocov2_cld_r50.py')
    assert (c.model.cld.num_clusters, c.model.cld.temperature,
            c.model.cld.weight, c.model.head.temperature,
            c.model.queue_len) == (120, 0.4, 0.25, 0.2, 65536)
    assert c.train_dataloader.batch_size * 8 == 512
    assert c.optim_wrapper.optimizer.lr == 0.2
    assert c.train_cfg.max_epochs == 200
    assert c.model.neck.type == 'TwoBranchMLPNeck' and c.model.neck.normalized
    c = _cfg('configs/cld/mocov2-cld-normmlp_resnet50_8xb64-coslr-200e_in100.py')
    assert c.optim_wrapper.optimizer.lr == 0.8
    c = _cfg('configs/cld/mocov2-cld-normmlp_resnet50_8xb64-coslr-80e_kitchen-hc.py')
    assert c.train_cfg.max_epochs == 80
