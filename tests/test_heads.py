"""CLDHead: registered, no name collision, its loss by hand; the old ``cld=``
argument and the old checkpoint layout.

The hand-computed cases write the batch k-means result down (labels and the
centroids as means of the rows) and the cross entropies in plain PyTorch,
so they depend on neither cld_mm's k-means nor its loss functions.
"""
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import tiny_models
import torch
from mmpretrain.registry import MODELS

from cld_mm.models.heads import CLDHead

REGISTRIES = ('MODELS', 'HOOKS', 'DATASETS', 'TRANSFORMS', 'METRICS',
              'OPTIM_WRAPPERS', 'WEIGHT_INITIALIZERS')


def test_cld_head_is_registered():
    assert MODELS.get('CLDHead') is CLDHead
    head = MODELS.build(dict(type='CLDHead', num_clusters=7, temperature=0.3,
                             loss_weight=0.5))
    assert isinstance(head, CLDHead)
    assert (head.num_clusters, head.temperature, head.loss_weight,
            head.num_iters, head.spherical, head.init,
            head.global_clustering) == (7, 0.3, 0.5, 5, False, 'first', False)
    assert not list(head.parameters()) and not list(head.buffers())


def _mmpretrain_names():
    """Every name mmpretrain (and mmengine/mmcv below it) registers, read in
    a fresh interpreter that never imported cld_mm."""
    code = ('import json, mmpretrain.models, mmpretrain.datasets, '
            'mmpretrain.engine, mmpretrain.evaluation\n'
            'from mmpretrain import registry as r\n'
            'out = {}\n'
            f'for n in {REGISTRIES!r}:\n'
            '    reg = getattr(r, n)\n'
            '    names = set(reg.module_dict)\n'
            '    if reg.parent is not None:\n'
            '        names |= set(reg.parent.module_dict)\n'
            '    out[n] = sorted(names)\n'
            'print(json.dumps(out))\n')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_no_cld_mm_name_collides_with_mmpretrain():
    from mmpretrain import registry

    import cld_mm
    theirs = _mmpretrain_names()
    assert 'LatentPredictHead' in theirs['MODELS']        # the list is real
    assert 'PackInputs' in theirs['TRANSFORMS']
    ours = {}
    for n in REGISTRIES:     # cld_mm's names, in mmpretrain's registry or
        reg = getattr(registry, n)          # in mmengine's above it
        items = list(reg.module_dict.items()) + list(
            reg.parent.module_dict.items() if reg.parent else [])
        ours[n] = sorted(k for k, v in items if getattr(
            v, '__module__', '').startswith('cld_mm.'))
    assert 'CLDHead' in ours['MODELS'] and 'NPIDCLD' in ours['MODELS']
    assert 'KNNDataset' in ours['DATASETS'] and ours['HOOKS']
    assert 'PretrainedBackbone' in ours['WEIGHT_INITIALIZERS']
    clashes = [f'{n}.{k}' for n in REGISTRIES for k in ours[n]
               if k in theirs[n]]
    assert not clashes, f'cld_mm names taken by mmpretrain: {clashes}'
    assert cld_mm.__name__ == 'cld_mm'


def _ce(logits, target):
    """Mean cross entropy, written out."""
    return (torch.logsumexp(logits, dim=1) -
            logits[torch.arange(len(target)), target]).mean()


def test_loss_closed_form_on_axis_features():
    """Rows e1, e2, e1, e2 (view a) and e1, e2, e2, e1 (view b), K=2: both
    clusterings are {e1}, {e2} with unit centroids; half of the rows sit on
    their target centroid, half on the other, so
    L = 1/2 [log(1 + e^(-1/T)) + log(1 + e^(1/T))] = log(2 cosh(1 / 2T))."""
    e1, e2 = torch.tensor([1., 0.]), torch.tensor([0., 1.])
    fa = torch.stack([e1, e2, e1, e2]).double()
    fb = torch.stack([e1, e2, e2, e1]).double()
    t, lam = 0.5, 0.3
    out = CLDHead(num_clusters=2, temperature=t, loss_weight=lam).loss(fa, fb)
    assert set(out) == {'loss_cld', 'cld_group_acc', 'cld_num_groups'}
    expected = lam * math.log(2 * math.cosh(1 / (2 * t)))
    assert float(out['loss_cld']) == pytest.approx(expected, rel=1e-12)
    assert float(out['cld_group_acc']) == 50.0   # rows 0, 1 right; 2, 3 not
    assert float(out['cld_num_groups']) == 2.0


def test_loss_by_hand_with_centroid_gradients():
    """Rows off the axes: the k-means from the first two rows settles on
    labels (0, 1, 0, 1) in both views, each centroid the mean of its two
    rows (worked out below); the loss, its diagnostics and the gradient
    reaching the features (through the centroids too) are compared."""
    rows = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [0.6, 0.8]],
                        dtype=torch.float64)
    # view a: rows 0..3; view b: rows 2, 3, 0, 1 (the same images' other
    # views in another order of values)
    fa = rows.clone().requires_grad_(True)
    fb = rows[[2, 3, 0, 1]].clone().requires_grad_(True)
    t, lam = 0.2, 0.5
    out = CLDHead(num_clusters=2, temperature=t,
                  loss_weight=lam).loss(fa, fb)
    # by hand: view a starts from (1, 0), (0, 1); (0.8, 0.6) is 0.4 from the
    # first and 0.8 from the second (squared), (0.6, 0.8) the reverse; the
    # means (0.9, 0.3), (0.3, 0.9) keep the assignment. View b likewise.
    ya = yb = torch.tensor([0, 1, 0, 1])
    ca = torch.stack([(fa[0] + fa[2]) / 2, (fa[1] + fa[3]) / 2])
    cb = torch.stack([(fb[0] + fb[2]) / 2, (fb[1] + fb[3]) / 2])
    assert torch.allclose(ca.detach(), torch.tensor(
        [[0.9, 0.3], [0.3, 0.9]], dtype=torch.float64))
    logits_ab = fa @ cb.t() / t
    hand = lam * 0.5 * (_ce(logits_ab, yb) + _ce(fb @ ca.t() / t, ya))
    torch.testing.assert_close(out['loss_cld'], hand, rtol=1e-12, atol=0)
    acc = 100.0 * (logits_ab.argmax(1) == yb).double().mean()
    assert float(out['cld_group_acc']) == pytest.approx(float(acc))
    assert float(out['cld_num_groups']) == 2.0
    got = torch.autograd.grad(out['loss_cld'], (fa, fb))
    want = torch.autograd.grad(hand, (fa, fb))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


def test_head_equals_the_pure_function_times_lambda():
    from cld_mm.models.losses import cross_level_loss, global_cross_level_loss
    g = torch.Generator().manual_seed(0)
    fa = torch.nn.functional.normalize(torch.randn(16, 5, generator=g), dim=1)
    fb = torch.nn.functional.normalize(torch.randn(16, 5, generator=g), dim=1)
    for spherical in (False, True):
        opts = dict(num_clusters=4, temperature=0.3, num_iters=3,
                    spherical=spherical)
        pure = cross_level_loss(fa, fb, **opts)
        for global_clustering in (False, True):   # equal in one process
            head = CLDHead(loss_weight=0.7,
                           global_clustering=global_clustering, **opts)
            torch.testing.assert_close(head.loss(fa, fb)['loss_cld'],
                                       0.7 * pure)
        loss, _ = global_cross_level_loss(fa, fb, 4, 0.3, 3,
                                          spherical=spherical)
        torch.testing.assert_close(loss, pure)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_clusters=0), 'num_clusters'),
    (dict(num_clusters=2.5), 'num_clusters'),
    (dict(num_clusters=4, temperature=0), 'temperature'),
    (dict(num_clusters=4, loss_weight=-1), 'loss_weight'),
    (dict(num_clusters=4, num_iters=0), 'num_iters'),
    (dict(num_clusters=4, init='centre'), 'init'),
])
def test_bad_options_name_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CLDHead(**kwargs)


def _tiny(algorithm):
    head = dict(num_clusters=3, temperature=0.3, weight=0.7)
    if algorithm == 'NPIDCLD':
        base = tiny_models.npid(20, 8, 0.1)
    elif algorithm == 'MoCoCLD':
        base = tiny_models.moco(tiny_models.linear_neck(8), 16, 8, 0.01, 0.2)
    else:
        base = tiny_models.byol(12, 8, 0.01)
    return tiny_models.with_cld(base, algorithm, tiny_models.linear_neck(6),
                                **head)


@pytest.mark.parametrize('algorithm', ['NPIDCLD', 'MoCoCLD', 'BYOLCLD'])
def test_old_cld_argument_names_the_new_keys(algorithm):
    cfg = _tiny(algorithm)
    old = dict(group_neck=cfg.pop('group_neck'), num_clusters=3,
               temperature=0.3, weight=0.7)
    cfg.pop('cld_head')
    with pytest.raises(ValueError) as err:
        MODELS.build(dict(cfg, cld=old))
    msg = str(err.value)
    assert algorithm in msg
    assert 'group_neck=' in msg and 'cld_head=' in msg
    assert "type='CLDHead'" in msg and 'loss_weight=0.7' in msg


def _legacy(state):
    """The layout written before the group_neck / cld_head split: the group
    branch lived in ``model.cld`` (``CrossLevelDiscrimination``)."""
    return {('cld.' + k if k.startswith('group_neck.') else k): v
            for k, v in state.items()}


def test_upgrade_state_dict_renames_only_the_old_keys():
    from cld_mm.models.utils.checkpoint_convert import upgrade_state_dict
    w, b = torch.ones(2, 3), torch.zeros(2)
    old = {'backbone.conv1.weight': w, 'cld.group_neck.fc.weight': w,
           'cld.group_neck.fc.bias': b, 'memory_bank': b}
    new = upgrade_state_dict(old)
    assert list(new) == ['backbone.conv1.weight', 'group_neck.fc.weight',
                         'group_neck.fc.bias', 'memory_bank']
    assert new['group_neck.fc.weight'] is w
    assert upgrade_state_dict(new) == new                 # idempotent
    with pytest.raises(KeyError, match='both'):
        upgrade_state_dict(dict(old, **{'group_neck.fc.bias': b}))


def test_legacy_checkpoint_loads(tmp_path):
    """A checkpoint of the earlier layout loads into the current model by
    every path: mmengine's load_checkpoint (strict), a Runner's load_from,
    and the evaluation tools' loader at the group level."""
    from mmengine.runner import load_checkpoint

    from cld_mm.evaluation.checkpoint import load_eval_checkpoint
    from cld_mm.evaluation.features import model_features
    cfg = tiny_models.with_cld(tiny_models.npid(20, 8, 0.1), 'NPIDCLD',
                               tiny_models.linear_neck(6), num_clusters=3,
                               temperature=0.3, weight=0.7)
    src = tiny_models.build(cfg, seed=1)
    with torch.no_grad():
        src.memory_bank.mul_(0.5)
    state = src.state_dict()
    assert any(k.startswith('group_neck.') for k in state)
    path = str(tmp_path / 'legacy.pth')
    torch.save(dict(state_dict=_legacy(state),
                    meta=dict(algorithm='NPIDCLD')), path)
    img = torch.randn(4, 3, tiny_models.IMG, tiny_models.IMG,
                      dtype=torch.float64)

    dst = tiny_models.build(cfg, seed=2)
    load_checkpoint(dst, path, strict=True)
    for k, v in dst.state_dict().items():
        assert torch.equal(v, state[k]), k

    dst = tiny_models.build(cfg, seed=3).eval()
    report = load_eval_checkpoint(dst, path, level='group', quiet=True)
    assert 'group_neck.fc.weight' in report['needed']
    assert not report['not_in_model'] and not report['not_in_checkpoint']
    with torch.no_grad():
        torch.testing.assert_close(model_features(dst, img, level='group'),
                                   model_features(src.eval(), img,
                                                  level='group'))
    assert osp.exists(path)


def test_legacy_checkpoint_loads_in_a_runner(tmp_path, cifar_t20):
    """A Runner's ``load_checkpoint`` (the ``load_from`` path, through
    CheckpointCheckHook) loads a MoCo+CLD checkpoint of the earlier layout
    into the shipped config's model."""
    from mmengine.runner import Runner

    from utils import tiny_config
    root, train_ann, _ = cifar_t20
    cfg_path = 'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py'

    def runner(name, seed):
        cfg = tiny_config(cfg_path, str(tmp_path / name), root, train_ann,
                          queue_len=32)
        cfg.model.backbone.norm_cfg = dict(type='BN')
        cfg.randomness = dict(seed=seed)
        return Runner.from_cfg(cfg)

    src = runner('src', 1).model
    state = {k: v.clone() for k, v in src.state_dict().items()}
    path = str(tmp_path / 'legacy.pth')
    torch.save(dict(state_dict=_legacy(state),
                    meta=dict(algorithm='MoCoCLD')), path)
    dst = runner('dst', 2)
    assert not torch.equal(dst.model.group_neck.fc.weight,
                           state['group_neck.fc.weight'])
    dst.load_checkpoint(path, strict=True)
    for k, v in dst.model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_group_features_from_a_single_output_neck_are_refused():
    cfg = _tiny('MoCoCLD')
    cfg['group_neck'] = 'neck'          # LinearNeck has no second output
    with pytest.raises(ValueError, match='two-branch neck'):
        MODELS.build(cfg)
    cfg.pop('cld_head')
    with pytest.raises(ValueError, match='needs `cld_head='):
        MODELS.build(dict(cfg, group_neck=tiny_models.linear_neck(6)))
