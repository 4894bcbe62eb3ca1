"""Helpers of the transfer tests: pre-trained backbones, downstream configs
and synthetic batches for classification, detection and segmentation.

``backbone_ckpts`` (conftest.py) pre-trains them once per session with
:func:`pretrain_backbone`; test modules use :func:`config_scope` as an
autouse fixture (``from transfer_utils import config_scope``).
"""
import glob
import os.path as osp
import runpy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import Runner

from utils import NPID_CFG, REPO, tiny_config

BENCH = osp.join(REPO, 'configs', 'benchmarks')
EXTRACT = osp.join(REPO, 'tools', 'model_converters', 'extract_backbone.py')
CONFIGS = sorted(osp.relpath(p, BENCH)
                 for p in glob.glob(osp.join(BENCH, '**', '*.py'),
                                    recursive=True))
R50_NPID = dict(backbone=dict(type='ResNet', depth=50),
                neck=dict(type='LinearNeck', in_channels=2048,
                          out_channels=128, gap_dim=2, norm_cfg=None))


def pretrain_backbone(out_dir: str, cifar_slice, resnet50: bool) -> tuple:
    """(raw NPID checkpoint, extracted backbone) of a 2-iteration run."""
    name = 'npid_r50' if resnet50 else 'npid_r18cifar'
    work_dir = osp.join(out_dir, name)
    raw, backbone = osp.join(work_dir, 'iter_2.pth'), osp.join(
        work_dir, 'backbone.pth')
    if not osp.exists(backbone):
        root, train_ann, _ = cifar_slice
        cfg = tiny_config(NPID_CFG, work_dir, root, train_ann, batch_size=8,
                          **(R50_NPID if resnet50 else {}))
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
        cfg.param_scheduler = None
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                            by_epoch=False, interval=2)
        cfg.log_processor = dict(by_epoch=False)
        Runner.from_cfg(cfg).train()
        runpy.run_path(EXTRACT)['main']([raw, backbone])
    return raw, backbone


SCOPES = {'classification': 'mmpretrain', 'semi_supervised': 'mmpretrain',
          'mmdetection': 'mmdet', 'mmsegmentation': 'mmseg'}


@pytest.fixture(autouse=True)
def config_scope(request):
    """Run each test in its config's registry scope, restored afterwards."""
    params = getattr(getattr(request.node, 'callspec', None), 'params', {})
    rel = params.get('rel', 'classification')
    with DefaultScope.overwrite_default_scope(SCOPES[rel.split('/')[0]]):
        yield


def load_config(rel: str, checkpoint: str) -> Config:
    cfg = Config.fromfile(osp.join(BENCH, rel))
    cfg.merge_from_dict({'model.init_cfg.checkpoint': checkpoint})
    if cfg.get('data_preprocessor') is not None:  # as mmengine's Runner
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    return cfg


def _uint8(*shape):
    return torch.randint(0, 256, shape, dtype=torch.uint8)


def cls_batch(n: int, size: int, num_classes: int) -> dict:
    from mmpretrain.structures import DataSample
    return dict(inputs=[_uint8(3, size, size) for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % num_classes)
                              for i in range(n)])


def det_batch(h: int, w: int, with_mask: bool) -> dict:
    """One image with two boxes (and their masks)."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    boxes = torch.tensor([[20., 30., 120., 150.], [130., 60., 250., 180.]])
    gt = InstanceData(bboxes=boxes, labels=torch.tensor([1, 5]))
    if with_mask:
        masks = np.zeros((2, h, w), np.uint8)
        for m, (x1, y1, x2, y2) in zip(masks, boxes.int().tolist()):
            m[y1 + 10:y2 - 10, x1 + 10:x2 - 10] = 1
        gt.masks = BitmapMasks(masks, h, w)
    sample = DetDataSample(metainfo=dict(
        img_id=0, img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.)))
    sample.gt_instances = gt
    return dict(inputs=[_uint8(3, h, w)], data_samples=[sample])


def seg_batch(n: int, size: int, num_classes: int) -> dict:
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(size, size),
                                        ori_shape=(size, size),
                                        pad_shape=(size, size)))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, size, size)))
        samples.append(s)
    return dict(inputs=[_uint8(3, size, size) for _ in range(n)],
                data_samples=samples)


def build_initialized(cfg: Config, backbone_ckpt: str):
    """Build in the config's scope, init, check every tensor was loaded."""
    current = DefaultScope.get_current_instance().scope_name
    assert current == cfg.default_scope
    model = MODELS.build(cfg.model)
    model.init_weights()
    expected = torch.load(backbone_ckpt, weights_only=True)['state_dict']
    got = dict(model.backbone.state_dict())
    shared = getattr(getattr(model, 'roi_head', None), 'shared_head', None)
    if shared is not None:  # C4: res5 is the RoI head
        got.update(shared.state_dict())
    assert set(expected) <= set(got)
    for key, value in expected.items():
        assert torch.equal(got[key], value), key
    own = set(model.backbone.state_dict())
    assert own <= set(expected), f'backbone keys not loaded: {own - set(expected)}'
    return model


def params_of(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}
