"""Every downstream config builds, loads a cld_mm backbone and trains a step.

The backbone comes from a real 2-iteration NPID run (mmengine Runner, CIFAR
slice, 32 px; ResNet-50 for ImageNet/detection/segmentation configs, the
CIFAR ResNet-18 for CIFAR configs) converted by
``tools/model_converters/extract_backbone.py``. Each config is loaded from
disk, its checkpoint set through the one overridable key, the model built in
the host library's scope, initialized (weights compared tensor by tensor),
then trained one step and run for inference on synthetic inputs.
"""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from transfer_utils import (  # noqa: F401  (config_scope: autouse fixture)
    CONFIGS,
    build_initialized,
    cls_batch,
    config_scope,
    det_batch,
    load_config,
    params_of,
    seg_batch,
)


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
