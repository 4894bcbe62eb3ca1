"""One NPID step against NPID's equations, restated in plain PyTorch.

`Wu et al., 2018 <https://arxiv.org/abs/1805.01978>`_. A tiny ResNet in
float64 with fixed weights and a fixed two-view batch; the loss, the
gradient of every parameter and the memory bank after the step must agree
with :mod:`parity_reference` to 1e-6 relative.

Bank semantics (cld_mm's documented default): both views are scored against
the bank as it was before the step, then the rows are updated by view a and
then by view b, ``v <- normalize(0.5 v + 0.5 f)``. The authors' NPID/CLD code
differs for the gradient: its custom autograd op (``LinearAverage``) reads the
live bank in backward, so the view-a gradient sees rows already updated by
view b (and torch >= 2 raises an in-place error on that path). The default
follows the paper, where the loss of a step is defined on the bank of the
previous step, which is also the only order-independent choice.

NCE normalisation: the paper estimates Z by Monte Carlo over noise samples,
``Z = M mean_j exp(v_j.f/T)``; the NPID code averages over the k noise
columns and the positive column. The default follows the paper (noise only);
with k >= 4096 the two differ by < 0.03 %.
"""
import parity_reference as ref
import pytest
import tiny_models
import torch

N, M, D, T, MOMENTUM = 8, 20, 8, 0.1, 0.5


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    views = [torch.randn(N, 3, tiny_models.IMG, tiny_models.IMG,
                         generator=g, dtype=torch.float64) for _ in range(2)]
    idx = torch.randperm(M, generator=g)[:N]
    return views, idx


def _samples(idx):
    from mmpretrain.structures import DataSample
    return [DataSample(metainfo=dict(sample_idx=int(i))) for i in idx]


def _reference_features(model, views):
    """Reference leaves and both views' unit instance features."""
    backbone = ref.Backbone(model.backbone)
    leaves = dict(backbone=ref.leaves(model.backbone),
                  neck=ref.leaves(model.neck))
    neck = leaves['neck']
    feats = [ref.unit(ref.linear(ref.pool(backbone(leaves['backbone'], v)),
                                 neck['fc.weight'], neck['fc.bias']))
             for v in views]
    return leaves, feats


def _parts(model):
    return dict(backbone=model.backbone, neck=model.neck)


def test_npid_softmax_step(batch):
    views, idx = batch
    model = tiny_models.build(tiny_models.npid(M, D, T, MOMENTUM))
    bank0 = model.memory_bank.clone()
    leaves, (fa, fb) = _reference_features(model, views)

    losses = model.loss(views, _samples(idx))
    assert set(losses) == {'loss'}
    total, _ = model.parse_losses(losses)
    total.backward()

    expected = 0.5 * (ref.npid_softmax(fa, bank0, idx, T) +
                      ref.npid_softmax(fb, bank0, idx, T))
    ref.assert_close(losses['loss'].detach(), expected.detach(), 'loss')
    ref.assert_grads(_parts(model), leaves, expected, model)
    # bank: view a then view b, each row renormalised; other rows untouched
    bank1 = ref.bank_update(bank0, idx, [fa, fb], MOMENTUM)
    ref.assert_close(model.memory_bank, bank1, 'memory bank')
    swapped = ref.bank_update(bank0, idx, [fb, fa], MOMENTUM)
    assert (swapped - bank1).abs().max() > 1e-3  # the order is observable
    assert torch.allclose(model.memory_bank[idx].norm(dim=1),
                          torch.ones(N, dtype=torch.float64))


def test_npid_scores_both_views_against_the_pre_step_bank(batch):
    """Scoring view b against the bank already updated by view a gives
    another loss: the model's equals the pre-step one only."""
    views, idx = batch
    model = tiny_models.build(tiny_models.npid(M, D, T, MOMENTUM))
    bank0 = model.memory_bank.clone()
    _, (fa, fb) = _reference_features(model, views)
    loss = model.loss(views, _samples(idx))['loss'].detach()
    live = ref.bank_update(bank0, idx, [fa], MOMENTUM)
    sequential = 0.5 * (ref.npid_softmax(fa, bank0, idx, T) +
                        ref.npid_softmax(fb, live, idx, T))
    assert abs(float(loss - sequential.detach())) > 1e-4


def test_npid_nce_step(batch):
    views, idx = batch
    k = 6
    model = tiny_models.build(tiny_models.npid(M, D, T, MOMENTUM, nce_k=k))
    bank0 = model.memory_bank.clone()
    assert float(model.nce_z) < 0  # Z is estimated on the first step
    leaves, (fa, fb) = _reference_features(model, views)

    torch.manual_seed(123)
    losses = model.loss(views, _samples(idx))
    total, _ = model.parse_losses(losses)
    total.backward()

    # the same noise rows: k uniform draws per row, view a then view b
    torch.manual_seed(123)
    noise_a = torch.randint(M, (N, k))
    noise_b = torch.randint(M, (N, k))
    z = ref.npid_z(fa, bank0, noise_a, T)
    expected = 0.5 * (ref.npid_nce(fa, bank0, idx, noise_a, T, z) +
                      ref.npid_nce(fb, bank0, idx, noise_b, T, z))
    ref.assert_close(model.nce_z, torch.tensor(z), 'NCE Z')
    ref.assert_close(losses['loss'].detach(), expected.detach(), 'loss')
    ref.assert_grads(_parts(model), leaves, expected, model)
    ref.assert_close(model.memory_bank,
                     ref.bank_update(bank0, idx, [fa, fb], MOMENTUM),
                     'memory bank')
