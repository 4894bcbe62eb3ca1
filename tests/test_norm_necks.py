"""NormLinearNeck, NormMLPNeck and TwoBranchMLPNeck: values and structure."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from cld_mm.models.necks import NormLinear


def test_norm_linear_is_cosine_with_each_column():
    layer = NormLinear(2, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3., 0., 1.], [4., 2., -1.]]))
    x = torch.tensor([[1., 0.], [0., 5.]])
    # cos(x, w_t) by hand: w_0 = (3, 4)/5, w_1 = (0, 1), w_2 = (1, -1)/sqrt2
    r = 2 ** -0.5
    expected = torch.tensor([[0.6, 0., r], [0.8, 1., -r]])
    assert torch.allclose(layer(x), expected)
    assert not any('bias' in n for n, _ in layer.named_parameters())


def test_norm_linear_init_uniform_then_unit_columns():
    layer = NormLinear(64, 16)
    w = layer.weight.detach()
    assert torch.allclose(w.norm(dim=0), torch.ones(16))
    # renormalizing a uniform(-1, 1) column keeps its signs, and the
    # relative magnitudes stay within the uniform range
    ratio = w.abs().max(dim=0).values / w.abs().min(dim=0).values
    assert (ratio > 1).all()


def test_norm_linear_neck_pools_4d_and_is_scale_invariant():
    neck = MODELS.build(dict(type='NormLinearNeck', in_channels=8,
                             out_channels=4))
    x = torch.randn(2, 8, 3, 3)
    out = neck((x,))[0]
    assert out.shape == (2, 4)
    direct = F.normalize(x.mean((2, 3)), dim=1) @ F.normalize(
        neck.fc.weight, dim=0)
    assert torch.allclose(out, direct)
    assert torch.allclose(neck((5 * x,))[0], out, atol=1e-6)
    assert out.abs().max() <= 1 + 1e-6
    out.sum().backward()
    assert neck.fc.weight.grad is not None


def test_norm_mlp_neck_structure():
    neck = MODELS.build(dict(type='NormMLPNeck', in_channels=8,
                             hid_channels=16, out_channels=4))
    x = torch.randn(3, 8, 2, 2)
    hidden = torch.relu(neck.mlp[0](x.mean((2, 3))))
    expected = F.normalize(hidden, dim=1) @ F.normalize(neck.fc.weight,
                                                            dim=0)
    assert torch.allclose(neck([x])[0], expected, atol=1e-6)
    assert isinstance(neck.mlp[0], nn.Linear) and neck.mlp[0].bias is not None


@pytest.mark.parametrize('normalized', [True, False])
def test_two_branch_shares_the_hidden_layer(normalized):
    neck = MODELS.build(dict(type='TwoBranchMLPNeck', in_channels=8,
                             hid_channels=16, out_channels=4,
                             group_channels=3, normalized=normalized))
    x = torch.randn(5, 8, 2, 2)
    inst, group = neck((x,))
    assert inst.shape == (5, 4) and group.shape == (5, 3)
    hidden = neck.mlp(x.mean((2, 3)))
    assert torch.allclose(group, neck.group_fc(hidden))
    # gradients of both branches reach the one shared layer
    group.sum().backward(retain_graph=True)
    assert neck.mlp[0].weight.grad.abs().sum() > 0
    assert neck.instance_fc.weight.grad is None
    inst.sum().backward()
    assert neck.instance_fc.weight.grad.abs().sum() > 0


def test_plain_necks_stay_available():
    assert MODELS.get('LinearNeck') is not None
    assert MODELS.get('NonLinearNeck') is not None


def test_bad_input_shape():
    neck = MODELS.build(dict(type='NormLinearNeck', in_channels=8))
    with pytest.raises(ValueError, match='neck expects'):
        neck(torch.randn(2, 8, 3))
