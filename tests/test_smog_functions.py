"""SMoG's pure functions against hand-computed values."""
import math

import pytest
import torch
import torch.nn.functional as F

from cld_mm.models.losses import (
    group_contrastive_loss,
    group_contrastive_term,
    instance_contrastive_loss,
)
from cld_mm.models.utils import (
    assign_groups,
    group_sums,
    linear_beta,
    momentum_group_update,
    momentum_group_update_from_sums,
)


def test_momentum_group_update_hand_values():
    g = torch.tensor([[1., 0.], [0., 1.], [0.6, 0.8]])
    f = torch.tensor([[0., 1.], [0., 1.], [1., 0.]])
    labels = torch.tensor([0, 0, 1])
    new = momentum_group_update(g, f, labels, beta=0.5)
    # group 0: 0.5*(1,0) + 0.5*mean((0,1),(0,1)) = (.5,.5) -> (1,1)/sqrt2
    # group 1: 0.5*(0,1) + 0.5*(1,0) = (.5,.5) -> (1,1)/sqrt2
    # group 2: empty -> unchanged
    s = 1 / math.sqrt(2)
    torch.testing.assert_close(new, torch.tensor([[s, s], [s, s],
                                                  [0.6, 0.8]]))
    # beta = 0.75, non-trivial mean: 0.75*(1,0) + 0.25*(0.5,0.5)
    f2 = torch.tensor([[0., 1.], [1., 0.]])
    new2 = momentum_group_update(g, f2, torch.tensor([0, 0]), beta=0.75)
    v = torch.tensor([0.875, 0.125])
    torch.testing.assert_close(new2[0], v / v.norm())
    torch.testing.assert_close(new2[1:], g[1:])


def test_beta_one_leaves_groups_unchanged_and_zero_takes_the_mean():
    g = F.normalize(torch.randn(5, 8), dim=1)
    f = F.normalize(torch.randn(12, 8), dim=1)
    labels = assign_groups(f, g)
    torch.testing.assert_close(momentum_group_update(g, f, labels, 1.0), g)
    new = momentum_group_update(g, f, labels, 0.0)
    for k in range(5):
        members = f[labels == k]
        want = g[k] if len(members) == 0 else F.normalize(
            members.mean(0), dim=0)
        torch.testing.assert_close(new[k], want)
    torch.testing.assert_close(new.norm(dim=1), torch.ones(5))


def test_sums_split_equals_one_process_update():
    """Summing two 'ranks'' sums and counts gives the full-batch update."""
    g = F.normalize(torch.randn(4, 6), dim=1)
    f = F.normalize(torch.randn(10, 6), dim=1)
    labels = assign_groups(f, g)
    s0, c0 = group_sums(f[:5], labels[:5], 4)
    s1, c1 = group_sums(f[5:], labels[5:], 4)
    torch.testing.assert_close(c0 + c1, torch.bincount(
        labels, minlength=4).float())
    split = momentum_group_update_from_sums(g, s0 + s1, c0 + c1, 0.9)
    torch.testing.assert_close(split, momentum_group_update(g, f, labels,
                                                            0.9))


def test_assign_groups_is_cosine_argmax():
    g = torch.tensor([[1., 0.], [0., 1.]])
    f = torch.tensor([[10., 1.], [0.1, 0.2], [-1., -0.5]])
    assert assign_groups(f, g).tolist() == [0, 1, 1]


def test_momentum_update_bad_input():
    g = torch.eye(3)
    with pytest.raises(ValueError, match='beta'):
        momentum_group_update(g, g, torch.arange(3), 1.5)
    with pytest.raises(ValueError, match='labels must lie'):
        momentum_group_update(g, g, torch.tensor([0, 1, 3]), 0.9)
    with pytest.raises(ValueError, match='feature dims'):
        momentum_group_update(g, torch.ones(2, 4), torch.tensor([0, 1]), 0.9)


def test_linear_beta_schedule():
    """Values of beta, first iteration start, last iteration end."""
    assert linear_beta(0, 101) == 1.0
    assert linear_beta(50, 101) == pytest.approx(0.995, rel=1e-12)
    assert linear_beta(100, 101) == 0.99
    assert linear_beta(300, 101) == 0.99  # past the end: kept
    assert linear_beta(1, 3, 1.0, 0.9) == pytest.approx(0.95, rel=1e-12)
    assert linear_beta(0, 1, 1.0, 0.9) == 1.0
    assert linear_beta(40, 100, 0.99, 0.99) == 0.99
    with pytest.raises(ValueError, match='total_steps'):
        linear_beta(0, 0)
    with pytest.raises(ValueError, match='beta'):
        linear_beta(0, 10, 1.0, 1.5)


def test_old_beta_arguments_give_clear_errors():
    from mmpretrain.registry import MODELS
    from tiny_smog import smog_cfg
    with pytest.raises(ValueError, match='beta_start.*beta_end'):
        MODELS.build(smog_cfg(beta_end_factor=0.99))
    with pytest.raises(ValueError, match="beta_schedule='fixed'"):
        MODELS.build(smog_cfg(beta=0.99))
    with pytest.raises(ValueError, match='beta'):
        MODELS.build(smog_cfg(beta_end=1.2))


def test_group_contrastive_loss_hand_value():
    g = torch.tensor([[1., 0.], [0., 1.], [-1., 0.]])
    za = torch.tensor([[2., 0.]])  # normalized to (1, 0)
    zb = torch.tensor([[0., 3.]])  # normalized to (0, 1)
    ca, cb = torch.tensor([0]), torch.tensor([1])
    tau = 0.5
    # view a -> target c^b = 1: logits (2, 0, -2)
    la = -0 + math.log(math.exp(2) + 1 + math.exp(-2))
    # view b -> target c^a = 0: logits (0, 2, 0)
    lb = -0 + math.log(1 + math.exp(2) + 1)
    loss = group_contrastive_loss(za, zb, g, ca, cb, tau)
    assert float(loss) == pytest.approx(0.5 * (la + lb), rel=1e-6)
    assert float(group_contrastive_term(za, g, cb, tau)) == pytest.approx(
        la, rel=1e-6)


def test_loss_gradient_reaches_the_group_features_and_their_sources():
    torch.manual_seed(1)
    g_old = F.normalize(torch.randn(6, 8), dim=1)
    feats = F.normalize(torch.randn(10, 8), dim=1).requires_grad_()
    preds = torch.randn(10, 8, requires_grad=True)
    labels = assign_groups(feats, g_old)
    new = momentum_group_update(g_old, feats, labels, 0.9)
    new.retain_grad()
    targets = torch.randint(6, (10, ))
    loss = group_contrastive_loss(preds[:5], preds[5:], new, targets[:5],
                                  targets[5:], 0.1)
    loss.backward()
    assert new.grad is not None and new.grad.abs().sum() > 0
    # the groups moved by the batch carry the gradient into the features
    assert feats.grad is not None and feats.grad.abs().sum() > 0
    # closed form of d loss / d G for a leaf G
    leaf = new.detach().requires_grad_()
    group_contrastive_loss(preds[:5].detach(), preds[5:].detach(), leaf,
                           targets[:5], targets[5:], 0.1).backward()
    z = F.normalize(preds.detach(), dim=1)
    tgt = torch.cat([targets[5:], targets[:5]])
    p = (z @ leaf.detach().t() / 0.1).softmax(1)
    want = ((p - F.one_hot(tgt, 6)).t() @ z) / 0.1 / 10
    torch.testing.assert_close(leaf.grad, want, rtol=1e-4, atol=1e-6)


def test_instance_contrastive_loss_hand_value():
    q = torch.tensor([[1., 0.], [0., 1.]])
    k = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
    tau = 1.0
    s = 1 / math.sqrt(2)
    l0 = -1 + math.log(math.e + 1 + math.exp(s))
    l1 = -1 + math.log(1 + math.e + math.exp(s))
    got = instance_contrastive_loss(q, k, tau)
    assert float(got) == pytest.approx((l0 + l1) / 2, rel=1e-6)
    with pytest.raises(ValueError, match='temperature'):
        instance_contrastive_loss(q, k, 0.0)
