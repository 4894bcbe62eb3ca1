"""Label-free hyper-parameter search: space parsing, real short trials."""
import importlib
import json
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NPID_CFG = osp.join(REPO, 'configs/npid/'
                    'npid_resnet18_1xb256-coslr-200e_cifar10.py')
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
hs = importlib.import_module('hparam_search')


def test_parse_space():
    space = hs.parse_space(['model.cld_head.temperature=0.1,0.2',
                            'model.cld_head.num_clusters=4:16',
                            'optim_wrapper.optimizer.lr=0.001:0.1:log',
                            'model.cld_head.init=first,random'])
    assert space['model.cld_head.temperature'] == ('list', [0.1, 0.2])
    assert space['model.cld_head.num_clusters'] == ('range', 4, 16, False)
    assert space['optim_wrapper.optimizer.lr'] == ('range', 0.001, 0.1, True)
    assert space['model.cld_head.init'] == ('list', ['first', 'random'])
    for bad in ('model.x', 'model.x=3:1', 'model.x=1:2:lin'):
        with pytest.raises(ValueError):
            hs.parse_space([bad])


def test_suggest_types():
    import optuna
    space = hs.parse_space(['a=1,2', 'b=4:16', 'c=0.1:1.0'])
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    params = hs.suggest(study.ask(), space)
    assert params['a'] in (1, 2)
    assert isinstance(params['b'], int) and 4 <= params['b'] <= 16
    assert isinstance(params['c'], float) and 0.1 <= params['c'] <= 1.0


def test_trial_config_shrinks(cifar_slice, tmp_path):
    root, train_ann, _ = cifar_slice
    cfg = Config.fromfile(NPID_CFG)
    t = hs.trial_config(cfg, {'model.temperature': 0.05}, str(tmp_path), 3,
                        4, train_ann, root)
    assert t.model.temperature == 0.05 and cfg.model.temperature == 0.1
    assert t.model.bank_size == 80
    assert t.train_cfg == dict(type='IterBasedTrainLoop', max_iters=3)
    assert t.train_dataloader.batch_size == 4 and t.val_dataloader is None


def test_default_space_is_the_cld_head():
    space = hs.parse_space(hs.DEFAULT_CLD_SPACE)
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py'))
    for key in space:          # every default key exists in a CLD config
        node = cfg
        for part in key.split('.'):
            assert part in node, key
            node = node[part]
    assert set(space) == {'model.cld_head.temperature',
                          'model.cld_head.num_clusters',
                          'model.cld_head.loss_weight'}


def test_search_runs_real_trials(cifar_slice, tmp_path, capfd):
    root, train_ann, test_ann = cifar_slice
    res = hs.main([NPID_CFG, '--space', 'model.temperature=0.05,0.2',
                   '--grid', '--trials', '2', '--iters', '1', '--batch', '4',
                   '--data-root', root, '--train-ann', train_ann,
                   '--query-ann', test_ann, '--eval-per-class', '2',
                   '--query-per-class', '2', '--work-dir', str(tmp_path)])
    rows = res['rows']
    # the grid covers both values once, ranked best view retrieval first
    temps = sorted(r['params']['model.temperature'] for r in rows)
    assert temps == [0.05, 0.2]
    assert rows[0]['view_retrieval'] >= rows[1]['view_retrieval']
    for r in rows:
        assert 0 <= r['view_retrieval'] <= 1 and r['alignment'] >= 0
        assert r['uniformity'] <= 0
        assert r['align_uniform'] == pytest.approx(r['alignment']
                                                   + r['uniformity'])
        hits = r['knn_top1'] / 5                  # 20 queries: 5% each
        assert abs(hits - round(hits)) < 1e-4 and 0 <= hits <= 20
    err = capfd.readouterr().err              # the progress bar
    assert '1/2' in err and '2/2' in err and 'ETA' in err
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert saved['best']['trial'] == rows[0]['trial']
    assert osp.isdir(tmp_path / 'trial_0') and osp.isdir(tmp_path / 'trial_1')


def test_evaluate_uses_the_same_views(cifar_slice):
    """Criteria are comparable across trials: same seeded augmentations."""
    from cld_mm.evaluation.features import load_model
    root, train_ann, test_ann = cifar_slice
    args = hs.parse_args([NPID_CFG, '--data-root', root, '--train-ann',
                          train_ann, '--query-ann', test_ann,
                          '--eval-per-class', '2', '--no-knn'])
    cfg = Config.fromfile(NPID_CFG)
    torch.manual_seed(3)
    model = load_model(cfg)
    a = hs.evaluate(model, cfg, args)
    torch.rand(5)  # disturb the RNG in between
    b = hs.evaluate(model, cfg, args)
    assert a == b and 'knn_top1' not in a


def test_no_cld_needs_space():
    with pytest.raises(ValueError, match='--space'):
        hs.main([NPID_CFG])
