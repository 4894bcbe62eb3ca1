"""One NPID+CLD step against the CLD and NPID equations, in plain PyTorch.

`Wang, Liu, Yu, CVPR 2021 <https://arxiv.org/abs/2008.03813>`_. A tiny
ResNet in float64, fixed weights, a fixed two-view batch. Compared to 1e-6
relative with :mod:`parity_reference`: ``loss_instance``, ``loss_cld``
(lambda included), ``cld_group_acc``, ``cld_num_groups``, the gradient of
every parameter (backbone, instance neck, group branch) and the memory bank.

Where the paper and the authors' code differ, the default follows the code,
because the paper leaves these points open: the batch k-means starts from
the first K rows, runs 5 iterations, gives an empty cluster a zero centroid
and keeps the centroids unnormalised and attached to the graph (the paper
only says "k-means clustering" on the batch); the group accuracy is view a
against view b's groups. The memory bank follows cld_mm's documented default
(both views against the pre-step bank, then view a, then view b; see
test_parity_npid.py for how the authors' autograd op differs).
"""
import parity_reference as ref
import pytest
import tiny_models
import torch

N, M, D, G = 8, 20, 8, 6           # batch, bank rows, instance / group dims
T, MOMENTUM = 0.1, 0.5             # NPID
K, T_G, LAMBDA = 3, 0.3, 0.7       # CLD


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(2)
    views = [torch.randn(N, 3, tiny_models.IMG, tiny_models.IMG,
                         generator=g, dtype=torch.float64) for _ in range(2)]
    idx = torch.randperm(M, generator=g)[:N]
    return views, idx


def _samples(idx):
    from mmpretrain.structures import DataSample
    return [DataSample(metainfo=dict(sample_idx=int(i))) for i in idx]


def test_npid_cld_step(batch):
    views, idx = batch
    cfg = tiny_models.with_cld(
        tiny_models.npid(M, D, T, MOMENTUM), 'NPIDCLD',
        tiny_models.linear_neck(G), num_clusters=K, temperature=T_G,
        weight=LAMBDA)
    model = tiny_models.build(cfg)
    group = tiny_models.group_branch(model)
    assert group is not None
    bank0 = model.memory_bank.clone()

    backbone = ref.Backbone(model.backbone)
    leaves = dict(backbone=ref.leaves(model.backbone),
                  neck=ref.leaves(model.neck), group=ref.leaves(group))
    inst, grp = [], []
    for v in views:  # one backbone pass per view feeds both branches
        x = ref.pool(backbone(leaves['backbone'], v))
        inst.append(ref.unit(ref.linear(x, leaves['neck']['fc.weight'],
                                        leaves['neck']['fc.bias'])))
        grp.append(ref.unit(ref.linear(x, leaves['group']['fc.weight'],
                                       leaves['group']['fc.bias'])))
    loss_instance = 0.5 * (ref.npid_softmax(inst[0], bank0, idx, T) +
                           ref.npid_softmax(inst[1], bank0, idx, T))
    cld = ref.cross_level(grp[0], grp[1], K, T_G)
    total = loss_instance + LAMBDA * cld['loss']

    losses = model.loss(views, _samples(idx))
    assert set(losses) == {'loss_instance', 'loss_cld', 'cld_group_acc',
                           'cld_num_groups'}
    loss, _ = model.parse_losses(losses)
    loss.backward()

    ref.assert_close(losses['loss_instance'].detach(), loss_instance.detach(),
                     'loss_instance')
    ref.assert_close(losses['loss_cld'].detach(),
                     (LAMBDA * cld['loss']).detach(), 'loss_cld')
    ref.assert_close(losses['cld_group_acc'], cld['acc'], 'cld_group_acc')
    ref.assert_close(losses['cld_num_groups'], cld['groups'],
                     'cld_num_groups')
    assert 1 < float(cld['groups']) <= K  # a non-degenerate clustering
    parts = dict(backbone=model.backbone, neck=model.neck, group=group)
    ref.assert_grads(parts, leaves, total, model)
    assert all(p.grad.abs().max() > 0 for p in group.parameters())
    ref.assert_close(model.memory_bank,
                     ref.bank_update(bank0, idx, inst, MOMENTUM),
                     'memory bank')
