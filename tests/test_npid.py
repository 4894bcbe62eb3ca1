"""NPID: loss values against hand computations, bank update rule, checkpointing."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from cld_mm.models.losses import nce_loss, nce_normaliser, nonparametric_softmax_loss
from cld_mm.models.utils import check_bank_indices, init_memory_bank, momentum_bank_rows

from utils import npid_model


def tiny_npid(bank_size=16, **kw):
    return MODELS.build(npid_model(bank_size, feat_dim=8, **kw))


def test_nonparametric_softmax_hand_computed():
    # two unit features, a bank of three unit rows, T = 0.5
    f = torch.tensor([[1., 0.], [0., 1.]])
    bank = torch.tensor([[1., 0.], [0., 1.], [math.sqrt(.5), math.sqrt(.5)]])
    idx = torch.tensor([0, 2])
    s = math.sqrt(.5) / .5
    # sample 0: logits (2, 0, s); target 0.  sample 1: logits (0, 2, s); target 2
    l0 = -2 + math.log(math.exp(2) + 1 + math.exp(s))
    l1 = -s + math.log(1 + math.exp(2) + math.exp(s))
    loss = nonparametric_softmax_loss(f, bank, idx, 0.5)
    assert loss.item() == pytest.approx((l0 + l1) / 2, rel=1e-6)


def test_nonparametric_softmax_no_grad_into_bank():
    f = F.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    bank = F.normalize(torch.randn(10, 8), dim=1).requires_grad_()
    nonparametric_softmax_loss(f, bank, torch.arange(4), 0.1).backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    assert bank.grad is None


def test_nce_loss_hand_computed():
    f = torch.tensor([[1., 0.]])
    bank = torch.tensor([[1., 0.], [0., 1.], [-1., 0.], [0., -1.]])
    idx, noise = torch.tensor([0]), torch.tensor([[1, 2]])
    t, z = 1.0, 2.0
    k, m = 2, 4
    p = [math.exp(1) / z, math.exp(0) / z, math.exp(-1) / z]
    kpn = k / m
    expected = -(math.log(p[0] / (p[0] + kpn + 1e-7)) +
                 math.log(kpn / (p[1] + kpn + 1e-7)) +
                 math.log(kpn / (p[2] + kpn + 1e-7)))
    assert nce_loss(f, bank, idx, noise, t, z).item() == pytest.approx(
        expected, rel=1e-6)
    # Z = mean(exp(v.f/T)) * M over the noise scores
    assert nce_normaliser(f, bank, torch.tensor([[1, 2]]), t) == \
        pytest.approx((1 + math.exp(-1)) / 2 * 4, rel=1e-6)


def test_bank_rows_update_rule():
    rows = torch.tensor([[1., 0.], [0., 1.]])
    feats = torch.tensor([[0., 1.], [0., 1.]])
    out = momentum_bank_rows(rows, feats, 0.5)
    # 0.5*(1,0)+0.5*(0,1) -> (1,1)/sqrt2 ; 0.5*(0,1)+0.5*(0,1) -> (0,1)
    torch.testing.assert_close(out, torch.tensor([[.5 ** .5, .5 ** .5],
                                                  [0., 1.]]))
    bank = init_memory_bank(1000, 128)  # the authors': uniform, not unit rows
    stdv = (3 / 128) ** 0.5
    assert bank.abs().max() <= stdv and bank.abs().max() > 0.99 * stdv
    assert not torch.allclose(bank.norm(dim=1), torch.ones(1000))
    assert abs(float(bank.pow(2).sum(1).mean()) - 1.0) < 0.02


def test_npid_step_updates_both_views_in_order():
    model = tiny_npid()
    before = model.memory_bank.clone()
    views = [torch.rand(4, 3, 16, 16) for _ in range(2)]
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in (3, 5, 7, 9)]
    # expected: losses against the bank before the step, then rows updated by
    # view a and then view b
    model.eval()  # deterministic BN for the expectation below
    with torch.no_grad():
        fa, fb = (model.project(v)[1] for v in views)
    idx = torch.tensor([3, 5, 7, 9])
    expected_loss = (nonparametric_softmax_loss(fa, before, idx, 0.1) +
                     nonparametric_softmax_loss(fb, before, idx, 0.1)) / 2
    rows = momentum_bank_rows(momentum_bank_rows(before[idx], fa, .5), fb, .5)
    loss = model.loss(views, samples)['loss']
    assert loss.item() == pytest.approx(expected_loss.item(), rel=1e-5)
    torch.testing.assert_close(model.memory_bank[idx], rows)
    untouched = [i for i in range(16) if i not in (3, 5, 7, 9)]
    assert torch.equal(model.memory_bank[untouched], before[untouched])


def test_nce_variant_sets_normaliser_once():
    model = tiny_npid(nce_k=4)
    views = [torch.rand(4, 3, 16, 16) for _ in range(2)]
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in range(4)]
    loss = model.loss(views, samples)['loss']
    assert torch.isfinite(loss)
    z = float(model.nce_z)
    assert z > 0
    model.loss(views, samples)
    assert float(model.nce_z) == z


def test_bank_saved_and_restored_through_checkpoint(tmp_path):
    model = tiny_npid()
    views = [torch.rand(4, 3, 16, 16) for _ in range(2)]
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in range(4)]
    model.loss(views, samples)
    path = str(tmp_path / 'npid.pth')
    save_checkpoint({'state_dict': model.state_dict()}, path)
    fresh = tiny_npid()
    assert not torch.equal(fresh.memory_bank, model.memory_bank)
    load_checkpoint(fresh, path, strict=True)
    assert torch.equal(fresh.memory_bank, model.memory_bank)


def test_index_outside_bank_is_named():
    with pytest.raises(IndexError, match='sample index 16 is outside the '
                       'memory bank of 16 rows'):
        check_bank_indices(torch.tensor([0, 16]), 16)
    model = tiny_npid()
    views = [torch.rand(2, 3, 16, 16) for _ in range(2)]
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in (1, 20)]
    with pytest.raises(IndexError, match='sample index 20'):
        model.loss(views, samples)


def test_bank_smaller_than_dataset_is_named():
    model = tiny_npid(bank_size=10)
    with pytest.raises(ValueError, match='memory bank has 10 rows but the '
                       'training set has 50 images'):
        model.check_bank_size(50)
    model.check_bank_size(10)


@pytest.mark.parametrize('kw,msg', [
    (dict(bank_size=0), 'bank_size must be >= 1'),
    (dict(temperature=0.), 'Illegal temperature'),
    (dict(bank_momentum=1.0), 'bank_momentum'),
    (dict(nce_k=-1), 'nce_k'),
    (dict(eval_level='head'), 'eval_level'),
])
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        tiny_npid(**kw)
