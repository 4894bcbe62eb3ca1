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
        assert type(model.cld_head).__name__ == 'CLDHead'
        assert model.cld_head.num_clusters >= 1
        assert (model.group_neck is None) == model.group_from_neck


def _cfg(path):
    return Config.fromfile(osp.join(REPO, path))


def test_authors_hyper_parameters():
    c = _cfg('configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py')
    assert (c.model.cld_head.num_clusters, c.model.cld_head.temperature,
            c.model.cld_head.loss_weight) == (128, 0.2, 1.0)
    assert c.optim_wrapper.optimizer.weight_decay == 7e-4
    assert c.train_dataloader.batch_size == 256
    # the authors' scripts scale lr linearly from 0.03 per 128 images
    assert c.optim_wrapper.optimizer.lr == 0.06
    c = _cfg('configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar100.py')
    assert c.model.cld_head.num_clusters == 200
    assert c.optim_wrapper.optimizer.lr == 0.06
    c = _cfg('configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py')
    assert (c.model.cld_head.num_clusters, c.model.cld_head.loss_weight,
            c.model.queue_len,
            c.model.head.temperature) == (200, 0.8, 12288, 0.07)
    assert c.optim_wrapper.optimizer.weight_decay == 8e-4
    assert c.optim_wrapper.optimizer.lr == 0.06
    views = c.train_dataloader.dataset.pipeline[1]
    assert views.num_views == 3
    # --aug-plus --erasing: MoCo v2's view plus random erasing of every view
    assert [t['type'] for t in views.transforms[0]][-3:] == [
        'GaussianBlur', 'RandomFlip', 'RandomErasing']
    assert views.transforms[0][-1].erase_prob == 1.0
    # --normlinear: both heads normalized linear layers, no LinearNeck keys
    assert dict(c.model.neck) == dict(c.model.group_neck) == dict(
        type='NormLinearNeck', in_channels=512, out_channels=128)
    c = _cfg('configs/cld/moco-cld_resnet18_1xb128-coslr-200e_cifar100.py')
    assert (c.model.cld_head.num_clusters, c.model.cld_head.loss_weight,
            c.model.queue_len,
            c.train_dataloader.batch_size) == (100, 0.25, 4096, 128)
    assert c.optim_wrapper.optimizer.lr == 0.03
    assert c.model.neck.type == c.model.group_neck.type == 'NormLinearNeck'
    # the baselines share the data and schedule of their +CLD configs
    c = _cfg('configs/moco/moco_resnet18_1xb256-coslr-200e_cifar10.py')
    assert c.optim_wrapper.optimizer.lr == 0.06
    assert c.train_dataloader.dataset.pipeline[1].transforms[0][-1].type == \
        'RandomErasing'
    c = _cfg('configs/moco/moco_resnet18_1xb128-coslr-200e_cifar100.py')
    assert c.optim_wrapper.optimizer.lr == 0.03
    c = _cfg('configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py')
    assert c.optim_wrapper.optimizer.lr == 0.06
    c = _cfg('configs/cld/mocov2_cld_r50.py')
    assert (c.model.cld_head.num_clusters, c.model.cld_head.temperature,
            c.model.cld_head.loss_weight, c.model.head.temperature,
            c.model.queue_len) == (120, 0.4, 0.25, 0.2, 65536)
    assert c.train_dataloader.batch_size * 8 == 512
    assert c.optim_wrapper.optimizer.lr == 0.2
    assert c.train_cfg.max_epochs == 200
    assert c.model.neck.type == 'TwoBranchMLPNeck' and c.model.neck.normalized
    # the group features are the two-branch neck's second output
    assert c.model.group_neck == 'neck'
    c = _cfg('configs/cld/mocov2-cld-normmlp_resnet50_8xb64-coslr-200e_in100.py')
    assert c.optim_wrapper.optimizer.lr == 0.8
    c = _cfg('configs/cld/mocov2-cld-normmlp_resnet50_8xb64-coslr-80e_kitchen-hc.py')
    assert c.train_cfg.max_epochs == 80
