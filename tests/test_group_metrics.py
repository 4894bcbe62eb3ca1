"""Group entropy / NMI against hand values, and the group-entropy tool."""
import json
import math
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F

from cld_mm.evaluation.group_metrics import (
    group_class_entropy,
    group_quality,
    normalized_mutual_info,
)

from utils import REPO, tiny_config

sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
import group_entropy  # noqa: E402


def test_group_class_entropy_hand_values():
    assign = torch.tensor([0, 0, 0, 1, 1, 2])
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    ent = group_class_entropy(assign, labels, num_groups=4)
    h0 = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert ent[:3].tolist() == pytest.approx([h0, 0.0, 0.0])
    assert math.isnan(ent[3])  # empty group
    res = group_quality(assign, labels, num_groups=4)
    assert res['num_nonempty'] == 3
    assert res['mean_entropy'] == pytest.approx(h0 / 3)
    # uniform over 4 classes: log 4
    ent = group_class_entropy(torch.zeros(8, dtype=torch.long),
                              torch.arange(8) % 4)
    assert float(ent[0]) == pytest.approx(math.log(4))


def test_nmi_hand_values():
    a = torch.tensor([0, 0, 1, 1])
    assert normalized_mutual_info(a, torch.tensor([1, 1, 0, 0])) == \
        pytest.approx(1.0)  # same partition, renamed
    assert normalized_mutual_info(a, torch.tensor([0, 1, 0, 1])) == \
        pytest.approx(0.0, abs=1e-12)  # independent
    assert normalized_mutual_info(torch.zeros(4, dtype=torch.long),
                                  torch.tensor([0, 1, 2, 3])) == 0.0
    # 3 groups vs 2 classes: I = H(Y) - H(Y|A) with p(A) = (1/2, 1/4, 1/4)
    a = torch.tensor([0, 0, 1, 2])
    y = torch.tensor([0, 0, 1, 1])
    ha = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    hy = math.log(2)
    mi = hy  # the groups determine the class
    assert normalized_mutual_info(a, y) == pytest.approx(mi / ((ha + hy) / 2))


def test_metrics_bad_input():
    with pytest.raises(ValueError, match='same length'):
        group_class_entropy(torch.zeros(3, dtype=torch.long),
                            torch.zeros(4, dtype=torch.long))


CONFIG = 'configs/smog/smog_resnet18_1xb512-coslr-200e_cifar10.py'


def test_group_entropy_tool(tmp_path, cifar_slice):
    root, train_ann, test_ann = cifar_slice
    cfg = tiny_config(CONFIG, str(tmp_path), root, train_ann, test_ann,
                      num_groups=5, cache_size=16)
    cfg.model.neck.hid_channels = 64
    cfg.model.predictor.hid_channels = 64
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)

    # a single group: every image lands in it
    one = MODELS.build(dict(cfg.model, num_groups=1))
    ckpt = str(tmp_path / 'one.pth')
    torch.save(dict(state_dict=one.state_dict()), ckpt)
    png = str(tmp_path / 'one.png')
    res = group_entropy.main([cfg_path, ckpt, '--out', png, '--batch-size',
                              '20', '--cfg-options', 'model.num_groups=1'])
    # the 40 test images, 4 of each of the 10 classes, in one group
    assert res['num_images'] == 40 and res['num_nonempty_groups'] == 1
    assert res['mean_entropy'] == pytest.approx(math.log(10))
    assert res['nmi'] == 0.0
    assert osp.getsize(png) > 1000
    with open(osp.join(tmp_path, 'one.json')) as f:
        assert json.load(f)['mean_entropy'] == pytest.approx(math.log(10))

    # random groups: the tool's figures are those of the model's assignment
    model.groups.copy_(F.normalize(torch.randn(5, 128), dim=1))
    ckpt = str(tmp_path / 'rand.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    res = group_entropy.main([cfg_path, ckpt, '--out',
                              str(tmp_path / 'rand.png')])
    model.eval()
    from cld_mm.evaluation.features import build_split_dataset
    assign, labels = group_entropy.collect(
        model, build_split_dataset(cfg, 'query'), 40)
    want = group_quality(assign, labels, num_groups=5)
    assert labels.tolist() == sorted(labels.tolist())  # 4 per class, sorted
    assert res['mean_entropy'] == pytest.approx(want['mean_entropy'])
    assert res['nmi'] == pytest.approx(want['nmi'])
    assert res['num_nonempty_groups'] == want['num_nonempty']
    assert 0.0 <= res['mean_entropy'] <= math.log(10) + 1e-9
