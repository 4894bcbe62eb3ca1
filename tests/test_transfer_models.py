"""Every downstream config builds, loads a cld_mm backbone and trains a step.

The backbone comes from a real 2-iteration NPID run (mmengine Runner, CIFAR
slice, 32 px; ResNet-50 for ImageNet/detection/segmentation configs, the
CIFAR ResNet-18 for CIFAR configs) converted by
``tools/model_converters/extract_backbone.py``. Each config is loaded from
disk, its checkpoint set through the one overridable key, the model built in
the host library's scope, initialized (weights compared tensor by tensor),
then trained one step and run for inference on synthetic inputs.
"""
import glob
import os.path as osp
import runpy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import Runner

from utils import REPO, tiny_config

BENCH = osp.join(REPO, 'configs', 'benchmarks')
NPID_CFG = 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py'
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


@pytest.fixture(scope='session')
def backbone_ckpts(tmp_path_factory, cifar_slice):
    """{'r50': (raw, extracted), 'cifar': (raw, extracted)} checkpoints."""
    out = str(tmp_path_factory.getbasetemp() / 'transfer_pretrain')
    return dict(r50=pretrain_backbone(out, cifar_slice, True),
                cifar=pretrain_backbone(out, cifar_slice, False))


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


def test_every_config_names_the_checkpoint_once(backbone_ckpts):
    """One key, model.init_cfg.checkpoint, and no other pre-trained source."""
    assert len(CONFIGS) == 12
    for rel in CONFIGS:
        cfg = load_config(rel, '/ckpt/marker.pth')
        text = str(cfg.to_dict())
        assert text.count('/ckpt/marker.pth') == 1, rel
        assert "'Pretrained'" not in text and 'open-mmlab://' not in text, rel
        assert 'torchvision://' not in text, rel
        assert cfg.get('load_from') is None, rel
        assert cfg.model.init_cfg.type == 'PretrainedBackbone', rel


CLS = [c for c in CONFIGS if c.startswith(('classification', 'semi'))]


@pytest.mark.parametrize('rel', CLS)
def test_classification_config(rel, backbone_ckpts):
    cifar = '/cifar/' in rel
    ckpt = backbone_ckpts['cifar' if cifar else 'r50'][1]
    cfg = load_config(rel, ckpt)
    model = build_initialized(cfg, ckpt)
    num_classes = cfg.model.head.num_classes
    # 224 px for frozen (forward-only) ResNet-50s, 112 px when fine-tuned
    size = 32 if cifar else 224 if 'linear' in rel else 112
    batch = cls_batch(4 if cifar else 2, size, num_classes)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    backbone0, head0 = params_of(model.backbone), params_of(model.head)
    stats0 = model.backbone.bn1.running_mean.clone()
    model.train()
    losses = model.train_step(batch, wrapper)
    assert torch.isfinite(losses['loss'])
    head_moved = [not torch.equal(v, head0[k])
                  for k, v in params_of(model.head).items()]
    assert all(head_moved)
    backbone1 = params_of(model.backbone)
    if 'linear' in rel:  # frozen backbone, BN statistics included
        assert all(torch.equal(v, backbone0[k]) for k, v in backbone1.items())
        assert torch.equal(model.backbone.bn1.running_mean, stats0)
    else:  # semi-supervised: fine-tuned, head lr = 100 x backbone lr
        assert not torch.equal(backbone1['conv1.weight'],
                               backbone0['conv1.weight'])
        head_ids = {id(p) for p in model.head.parameters()}
        for group in wrapper.optimizer.param_groups:
            is_head = id(group['params'][0]) in head_ids
            assert group['lr'] == pytest.approx(1.0 if is_head else 0.01)
    model.eval()
    preds = model.test_step(cls_batch(2, size, num_classes))
    assert preds[0].pred_score.shape == (num_classes, )
    torch.testing.assert_close(preds[0].pred_score.sum(), torch.tensor(1.))


DET = [c for c in CONFIGS if c.startswith('mmdetection')]


@pytest.mark.parametrize('rel', DET)
def test_detection_config(rel, backbone_ckpts):
    import mmcv.ops
    ckpt = backbone_ckpts['r50'][1]
    cfg = load_config(rel, ckpt)
    cfg.merge_from_dict({  # fewer proposals for CPU time; same architecture
        'model.train_cfg.rpn_proposal.max_per_img': 64,
        'model.train_cfg.rcnn.sampler.num': 32,
        'model.test_cfg.rpn.max_per_img': 32})
    model = build_initialized(cfg, ckpt)
    roi_layer = model.roi_head.bbox_roi_extractor.roi_layers[0]
    assert isinstance(roi_layer, mmcv.ops.RoIAlign)
    norms = [m for m in model.backbone.modules()
             if isinstance(m, torch.nn.SyncBatchNorm)]
    assert len(norms) > 0 and all(m.weight.requires_grad for m in norms)
    with_mask = 'mask-rcnn' in rel
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    conv1 = model.backbone.conv1.weight.detach().clone()
    model.train()
    losses = model.train_step(det_batch(224, 320, with_mask), wrapper)
    names = {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'}
    names |= {'loss_mask'} if with_mask else set()
    assert names <= set(losses) and torch.isfinite(losses['loss'])
    assert not torch.equal(model.backbone.conv1.weight, conv1)
    model.eval()
    with torch.no_grad():
        pred = model.test_step(det_batch(224, 320, with_mask))[0]
    inst = pred.pred_instances
    assert inst.bboxes.shape[1] == 4 and len(inst) <= 100
    if len(inst):
        assert inst.bboxes[:, 2].max() <= 320 and inst.bboxes[:, 3].max() <= 224
    if with_mask:
        assert tuple(inst.masks.shape[1:]) == (224, 320)


SEG = [c for c in CONFIGS if c.startswith('mmsegmentation')]


@pytest.mark.parametrize('rel', SEG)
def test_segmentation_config(rel, backbone_ckpts):
    ckpt = backbone_ckpts['r50'][1]
    cfg = load_config(rel, ckpt)
    size = 96  # instead of the 512 / 769 crops, for CPU time
    cfg.model.data_preprocessor.size = (size, size)
    model = build_initialized(cfg, ckpt)
    num_classes = cfg.model.decode_head.num_classes
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    layer4 = model.backbone.layer4[0].conv2.weight.detach().clone()
    model.train()
    losses = model.train_step(seg_batch(2, size, num_classes), wrapper)
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
    assert torch.isfinite(losses['loss'])
    assert not torch.equal(model.backbone.layer4[0].conv2.weight, layer4)
    assert model.backbone.layer4[-1].conv2.dilation == (4, 4)  # d8
    model.eval()
    with torch.no_grad():
        pred = model.test_step(seg_batch(1, size, num_classes))[0]
    assert pred.pred_sem_seg.data.shape == (1, size, size)
    assert pred.seg_logits.data.shape == (num_classes, size, size)
