"""Backbone extraction, torchvision export and the strict backbone loader."""
import os.path as osp
import runpy

import pytest
import torch
import torchvision
from mmengine.registry import DefaultScope
from transfer_utils import config_scope  # noqa: F401  (autouse fixture)

from cld_mm.models.utils.checkpoint_convert import (
    PretrainedBackbone,
    assign_to_targets,
    extract_backbone,
    to_torchvision_resnet,
    unwrap_state_dict,
)

from utils import REPO

TOOLS = osp.join(REPO, 'tools', 'model_converters')


def tool(name):
    return runpy.run_path(osp.join(TOOLS, f'{name}.py'))['main']


def mmpretrain_resnet(depth, **kwargs):
    from mmpretrain.models import ResNet
    net = ResNet(depth, **kwargs)
    net.eval()  # mmpretrain's ResNet.train() returns None
    return net


def test_extract_drops_momentum_encoder_neck_and_queue():
    from mmpretrain.registry import MODELS

    import cld_mm  # noqa: F401
    moco = MODELS.build(dict(
        type='MoCo', queue_len=32, feat_dim=16, momentum=0.01,
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=32,
                  out_channels=16, with_avg_pool=True),
        head=dict(type='ContrastiveHead',
                  loss=dict(type='CrossEntropyLoss'), temperature=0.2)))
    state = moco.state_dict()
    tops = {k.split('.')[0] for k in state}
    assert tops == {'backbone', 'encoder_k', 'neck', 'queue', 'queue_ptr'}
    # wrapped as a DDP mmengine checkpoint
    ckpt = dict(state_dict={f'module.{k}': v for k, v in state.items()},
                meta=dict(epoch=3))
    out = extract_backbone(unwrap_state_dict(ckpt))
    assert list(out) == list(moco.backbone.state_dict())
    for k, v in moco.backbone.state_dict().items():
        assert out[k] is state[f'backbone.{k}'] or torch.equal(out[k], v)


def test_extract_without_backbone_keys_names_the_problem():
    state = {'neck.fc.weight': torch.zeros(2, 2), 'memory_bank': torch.zeros(4)}
    with pytest.raises(KeyError, match='no backbone keys found.*memory_bank'):
        extract_backbone(state)


@pytest.mark.parametrize('depth,tv', [(18, torchvision.models.resnet18),
                                      (50, torchvision.models.resnet50)])
def test_torchvision_export_gives_the_same_features(depth, tv):
    mm = mmpretrain_resnet(depth)
    for m in mm.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    net = tv()
    net.fc = torch.nn.Identity()
    net.load_state_dict(to_torchvision_resnet(mm.state_dict()), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = mm(x)[-1].mean(dim=(2, 3))  # (2, C) pooled
        got = net.eval()(x)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_torchvision_export_rejects_other_stems():
    from mmpretrain.models import ResNetV1c
    with pytest.raises(KeyError, match='deep stem'):
        to_torchvision_resnet(ResNetV1c(depth=50).state_dict())
    from mmpretrain.models import ResNet_CIFAR
    with pytest.raises(ValueError, match='conv1 is 3x3'):
        to_torchvision_resnet(ResNet_CIFAR(depth=18).state_dict())


def test_assign_to_targets_hand_example():
    t = torch.zeros(1)
    state = {'conv1.weight': t, 'layer3.0.w': t, 'layer4.0.w': t,
             'fc.weight': t}
    targets = {'backbone': ['conv1.weight', 'layer3.0.w', 'layer3.1.w'],
               'roi_head.shared_head': ['layer4.0.w', 'norm.weight']}
    assigned, unexpected, missing = assign_to_targets(state, targets)
    assert list(assigned['backbone']) == ['conv1.weight', 'layer3.0.w']
    assert list(assigned['roi_head.shared_head']) == ['layer4.0.w']
    assert unexpected == ['fc.weight']
    # layer3.1.w is required (layer3 is in the checkpoint); norm.* is new
    assert missing == {'backbone': ['layer3.1.w'],
                       'roi_head.shared_head': []}


def test_extract_tool_output_loads_strictly_everywhere(backbone_ckpts,
                                                      tmp_path):
    raw, extracted = backbone_ckpts['r50']
    ckpt = torch.load(extracted, weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta']['iter'] == 2 and ckpt['meta']['num_tensors'] == 318  # no fc
    state = ckpt['state_dict']
    assert not any(k.startswith(('backbone.', 'neck.', 'memory'))
                   for k in state)
    raw_state = torch.load(raw, weights_only=True)['state_dict']
    for k, v in state.items():
        assert torch.equal(v, raw_state[f'backbone.{k}'])
    import mmdet.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmengine.registry import MODELS
    for scope in ('mmpretrain', 'mmdet', 'mmseg'):
        with DefaultScope.overwrite_default_scope(scope):
            net = MODELS.build(dict(type='ResNet', depth=50))
        assert type(net).__module__.startswith(scope)
        result = net.load_state_dict(state, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
    # the torchvision export of the same run gives the same features
    mm = mmpretrain_resnet(50)
    mm.load_state_dict(state)
    out = str(tmp_path / 'tv.pth')
    tool('to_torchvision')([raw, out])
    net = torchvision.models.resnet50()
    net.fc = torch.nn.Identity()
    net.load_state_dict(torch.load(out, weights_only=True), strict=True)
    net.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x), mm(x)[-1].mean((2, 3)),
                                   rtol=1e-4, atol=1e-5)


def test_tools_name_a_missing_file(tmp_path):
    for name in ('extract_backbone', 'to_torchvision'):
        with pytest.raises(FileNotFoundError, match='nope.pth'):
            tool(name)([str(tmp_path / 'nope.pth'), str(tmp_path / 'o.pth')])


def test_pretrained_backbone_accepts_raw_and_extracted(backbone_ckpts):
    raw, extracted = backbone_ckpts['r50']
    from mmpretrain.models import ImageClassifier
    weights = []
    for path in (raw, extracted):
        model = ImageClassifier(backbone=dict(type='ResNet', depth=50),
                                neck=dict(type='GlobalAveragePooling'))
        PretrainedBackbone(path)(model)
        assert model.backbone.is_init
        weights.append(model.backbone.state_dict())
    for k, v in weights[0].items():
        assert torch.equal(v, weights[1][k])


def test_pretrained_backbone_errors(backbone_ckpts, tmp_path):
    from mmpretrain.models import ImageClassifier
    model = ImageClassifier(backbone=dict(type='ResNet', depth=50))
    with pytest.raises(ValueError, match='model.init_cfg.checkpoint'):
        PretrainedBackbone('')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        PretrainedBackbone(str(tmp_path / 'missing.pth'))(model)
    # a CIFAR ResNet-18 backbone does not fit a ResNet-50
    with pytest.raises(KeyError, match='backbone missing keys'):
        PretrainedBackbone(backbone_ckpts['cifar'][1])(model)
    bad = str(tmp_path / 'bad.pth')
    torch.save({'state_dict': {'fc.weight': torch.zeros(2)}}, bad)
    with pytest.raises(KeyError, match=r"unexpected keys \['fc.weight'\]"):
        PretrainedBackbone(bad)(model)
