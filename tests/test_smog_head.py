"""SMoGHead: registered, a hand-computed loss, and SMoG's construction keys."""
import math

import pytest
import torch
from mmpretrain.registry import MODELS
from tiny_smog import build_tiny_smog, smog_cfg

from cld_mm.models.heads import SMoGHead
from cld_mm.models.losses.group_contrastive import (
    multi_view_group_contrastive_loss,
)


def test_registered_once_in_mmpretrain_models():
    assert MODELS.get('SMoGHead') is SMoGHead
    assert SMoGHead.__module__ == 'cld_mm.models.heads.smog_head'
    # mmpretrain has no head of that name: ours does not shadow one
    assert not [k for k, v in MODELS.module_dict.items()
                if k.lower() == 'smoghead' and v is not SMoGHead]
    head = MODELS.build(dict(type='SMoGHead', temperature=0.2))
    assert isinstance(head, SMoGHead) and head.temperature == 0.2
    # options only: no parameter, no buffer
    assert not list(head.parameters()) and not list(head.buffers())


def _case():
    """Groups (1,0), (0,1), (-1,0); two images; two views + one local crop."""
    groups = torch.tensor([[1., 0.], [0., 1.], [-1., 0.]], dtype=torch.float64)
    za = torch.tensor([[2., 0.], [0., 1.]], dtype=torch.float64)  # unit e1, e2
    zb = torch.tensor([[0., 3.], [-1., 0.]], dtype=torch.float64)  # e2, -e1
    zl = torch.tensor([[1., 1.], [1., -1.]], dtype=torch.float64)  # (s, +-s)
    ca, cb = torch.tensor([0, 1]), torch.tensor([0, 2])
    ea = torch.tensor([[1., 0.], [0., 1.]], dtype=torch.float64)
    eb = torch.tensor([[0., 1.], [1., 0.]], dtype=torch.float64)
    return [za, zb, zl], groups, [ca, cb], [ea, eb]


def test_loss_equals_the_hand_computed_case():
    preds, groups, targets, keys = _case()
    head = SMoGHead(temperature=0.5, instance_weight=0.5,
                    instance_temperature=1.0)
    out = head.loss(preds, groups, targets, keys=keys)
    assert set(out) == {'loss_group', 'loss_instance', 'group_acc'}
    r2 = math.sqrt(2)
    # logits = unit z . g / 0.5:  e1 -> (2, 0, -2), e2 -> (0, 2, 0),
    # -e1 -> (-2, 0, 2), (s, s) -> (r2, r2, -r2), (s, -s) -> (r2, -r2, -r2)
    A = math.log(math.exp(2) + 1 + math.exp(-2))  # logsumexp of (2, 0, -2)
    B = math.log(2 + math.exp(2))  # of (0, 2, 0)
    C = math.log(2 * math.exp(r2) + math.exp(-r2))
    D = math.log(math.exp(r2) + 2 * math.exp(-r2))
    # view a -> c^b = (0, 2): A - 2 and B - 0
    term_a = (A - 2 + B) / 2
    # view b -> c^a = (0, 1): e2 -> 0: B - 0; -e1 -> 1: A - 0
    term_b = (B + A) / 2
    # local -> c^a = (0, 1): C - r2, D + r2; -> c^b = (0, 2): C - r2, D + r2
    term_l = 0.5 * ((C - r2 + D + r2) / 2 + (C - r2 + D + r2) / 2)
    want_group = (term_a + term_b + term_l) / 3
    assert float(out['loss_group']) == pytest.approx(want_group, rel=1e-12)
    # instance, tau 1: z^a = (e1, e2) vs e^b = (e2, e1): both positives at
    # similarity 0 against a negative at 1 -> log(1 + e) each; z^b = (e2,
    # -e1) vs e^a = (e1, e2): row 0 positive 0 / negative 1 -> log(1 + e),
    # row 1 positive -1 (at e1) / negative 0 -> log(1 + e^-1) + 0
    la = math.log(1 + math.e)
    lb = (math.log(1 + math.e) + math.log(1 + math.exp(-1))) / 2
    want_inst = 0.5 * 0.5 * (la + lb)
    assert float(out['loss_instance']) == pytest.approx(want_inst, rel=1e-12)
    # z^a's nearest groups are (0, 1); c^b = (0, 2): one of two
    assert float(out['group_acc']) == 0.5
    # and the pure function gives the same group loss
    assert float(multi_view_group_contrastive_loss(
        preds, groups, *targets, temperature=0.5)) == pytest.approx(
            want_group, rel=1e-12)


def test_two_views_and_instance_off():
    preds, groups, targets, _ = _case()
    out = SMoGHead(temperature=0.5).loss(preds[:2], groups, targets)
    assert set(out) == {'loss_group', 'group_acc'}
    A = math.log(math.exp(2) + 1 + math.exp(-2))
    B = math.log(2 + math.exp(2))
    assert float(out['loss_group']) == pytest.approx(
        0.5 * ((A - 2 + B) / 2 + (B + A) / 2), rel=1e-12)


def test_gradient_reaches_the_groups_passed_in():
    preds, groups, targets, _ = _case()
    groups = groups.clone().requires_grad_()
    SMoGHead(temperature=0.5).loss(preds, groups, targets)['loss_group'] \
        .backward()
    assert groups.grad is not None and groups.grad.abs().max() > 1e-3


def test_bad_input_errors():
    with pytest.raises(ValueError, match='temperature'):
        SMoGHead(temperature=0.0)
    with pytest.raises(ValueError, match='instance_weight'):
        SMoGHead(instance_weight=-1.0)
    preds, groups, targets, _ = _case()
    with pytest.raises(ValueError, match='keys'):
        SMoGHead(instance_weight=1.0).loss(preds, groups, targets)
    with pytest.raises(ValueError, match='two global views'):
        SMoGHead().loss(preds[:1], groups, targets)


@pytest.mark.parametrize('key', ['temperature', 'instance_weight',
                                 'instance_temperature'])
def test_old_smog_keys_name_the_head(key):
    cfg = smog_cfg()
    cfg[key] = 0.1  # as configs gave it before the head existed
    with pytest.raises(ValueError, match=r"head=dict\(type='SMoGHead'"):
        MODELS.build(cfg)


def test_smog_needs_a_head():
    cfg = smog_cfg()
    del cfg['head']
    with pytest.raises(ValueError, match='SMoGHead'):
        MODELS.build(cfg)


def test_state_dict_layout_unchanged():
    """The head holds no state: a checkpoint written before the head existed
    has exactly these keys (the group table and cache stay on SMoG), so it
    loads strictly with no renaming."""
    model = build_tiny_smog()
    keys = set(model.state_dict())
    assert not [k for k in keys if k.startswith('head.')]
    buffers = {'groups', 'feature_cache', 'cache_ptr', 'cache_filled',
               'group_step', 'num_reclusters'}
    assert buffers <= keys
    tops = {k.split('.')[0] for k in keys}
    assert tops == {'backbone', 'neck', 'predictor', 'target'} | buffers
    # a state dict of the previous layout (same names) loads strictly
    other = build_tiny_smog(seed=3)
    other.load_state_dict(model.state_dict(), strict=True)
    assert torch.equal(other.groups, model.groups)
