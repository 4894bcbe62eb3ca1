"""CIFAR-10 reproduction: the short configs train, curves and table tools."""
import importlib
import json
import os
import os.path as osp
import sys

import matplotlib.image as mpimg
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from utils import small_crops, tiny_config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
REPRO = {'NPID': 'npid', 'NPID+CLD': 'npid-cld', 'MoCo': 'moco',
         'MoCo+CLD': 'moco-cld'}


def repro_config(name):
    return f'configs/repro/{name}_resnet18_1xb128-coslr-10e_cifar10-5k.py'


def test_repro_configs_share_the_recipe(cifar10_root):
    cfgs = {m: Config.fromfile(osp.join(REPO, repro_config(n)))
            for m, n in REPRO.items()}
    n_train = sum(1 for _ in open(osp.join(cifar10_root, 'meta',
                                           'train_5k.txt')))
    assert n_train == 5000
    for pair in (('NPID', 'NPID+CLD'), ('MoCo', 'MoCo+CLD')):
        a, b = (cfgs[m] for m in pair)
        for key in ('val_dataloader', 'optim_wrapper', 'param_scheduler',
                    'train_cfg', 'val_evaluator'):
            assert a[key] == b[key], (pair, key)
        ta, tb = a.train_dataloader.to_dict(), b.train_dataloader.to_dict()
        va, vb = (t['dataset']['pipeline'][1] for t in (ta, tb))
        assert va['transforms'] == vb['transforms']  # the same view recipe
        # MoCo+CLD's third crop (q2) is part of the method
        assert (va['num_views'], vb['num_views']) == (
            (2, 2) if pair[0] == 'NPID' else (2, 3))
        for t in (ta, tb):
            del t['dataset']['pipeline']
        assert ta == tb
        assert a.model.backbone == b.model.backbone
        assert 'cld_head' not in a.model and \
            b.model.cld_head.num_clusters <= 128
    assert cfgs['NPID'].model.bank_size == cfgs['NPID+CLD'].model.bank_size \
        == n_train
    assert cfgs['MoCo'].model.queue_len < n_train
    assert cfgs['NPID'].train_cfg.max_epochs == 10


@pytest.fixture(scope='module')
def repro_runs(cifar_slice, tmp_path_factory):
    """Each repro config, shrunk to 20 training images (16 px crops, batch 8,
    2 epochs of 2 iterations) with kNN on 40 test images after each epoch."""
    from conftest import write_subset
    root, _, test_ann = cifar_slice
    train_ann = write_subset(root, 'train', 2, 'train_t20')
    base = tmp_path_factory.mktemp('repro')
    dirs = {}
    for method, name in REPRO.items():
        wd = str(base / name)
        cfg = tiny_config(repro_config(name), wd, root, train_ann, test_ann,
                          batch_size=8, max_iters=5)
        small_crops(cfg.train_dataloader.dataset.pipeline)
        cfg.train_cfg.val_interval = 1
        # plain lists: mmengine serialises a dataset for worker processes
        # with a full gc.collect() (~0.5 s here); num_workers is 0
        for ds in (cfg.train_dataloader.dataset,
                   cfg.val_dataloader.dataset.memory,
                   cfg.val_dataloader.dataset.query):
            ds.serialize_data = False
        Runner.from_cfg(cfg).train()
        dirs[method] = wd
    return dirs


def test_repro_configs_train_and_log_knn(repro_runs):
    from run_logs import metric_curve, run_method
    for method, wd in repro_runs.items():
        assert run_method(wd) == method
        steps, values = metric_curve(wd)
        assert steps == [1, 2]
        assert all(0 <= v <= 100 and (v / 2.5) == pytest.approx(
            round(v / 2.5), abs=1e-3) for v in values)  # 40 queries
        loss = metric_curve(wd, 'loss')[1]
        assert len(loss) == 4 and all(x == x for x in loss)


def test_plot_and_table_from_real_runs(repro_runs, tmp_path, capsys):
    from run_logs import metric_curve
    out = str(tmp_path / 'curves.png')
    res = importlib.import_module('plot_knn_curves').main(
        [*repro_runs.values(), '--paper', '--out', out])
    assert mpimg.imread(out).shape[1] > 500
    assert len(res['curves']) == 4
    table = importlib.import_module('repro_table').main(
        [*repro_runs.values()])
    lines = table.splitlines()
    assert len(lines) == 6
    npid_last = metric_curve(repro_runs['NPID'])[1][-1]
    cld_last = metric_curve(repro_runs['NPID+CLD'])[1][-1]
    row = next(line for line in lines if line.startswith('| NPID+CLD |'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert cells[1] == '2' and float(cells[2]) == pytest.approx(cld_last,
                                                                 abs=0.01)
    gain, epoch = cells[4].split(' (ep ')
    assert float(gain) == pytest.approx(cld_last - npid_last, abs=0.01)
    assert epoch == '2)'
    assert cells[5] == '86.7' and cells[6] == '+5.9'


def _write_log(wd, stamp, lines):
    d = osp.join(wd, stamp, 'vis_data')
    os.makedirs(d, exist_ok=True)
    with open(osp.join(d, 'scalars.json'), 'w') as f:
        f.writelines(json.dumps(x) + '\n' for x in lines)


def test_logs_merge_resumed_runs_and_table_values(tmp_path):
    rl = importlib.import_module('run_logs')
    rt = importlib.import_module('repro_table')
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    _write_log(a, '20260101_000000', [
        {'loss': 5.0, 'step': 10}, {'knn/top1': 30.0, 'step': 1},
        {'knn/top1': 40.0, 'step': 2}])
    # resumed from epoch 1: epoch 2 is logged again, then epoch 3
    _write_log(a, '20260102_000000', [
        {'knn/top1': 42.0, 'step': 2}, {'knn/top1': 41.0, 'step': 3}])
    _write_log(b, '20260101_000000', [
        {'knn/top1': 35.0, 'step': 1}, {'knn/top1': 47.5, 'step': 3}])
    assert rl.metric_curve(a) == ([1, 2, 3], [30.0, 42.0, 41.0])
    rows = rt.collect([f'NPID={a}', f'NPID+CLD={b}'])
    assert rows[0] == dict(method='NPID', work_dir=a, epochs=3, last=41.0,
                           best=42.0, curve={1: 30.0, 2: 42.0, 3: 41.0})
    table = rt.markdown(rows)
    assert '| NPID | 3 | 41.00 | 42.00 | - | 80.8 | - |' in table
    assert '| NPID+CLD | 3 | 47.50 | 47.50 | +6.50 (ep 3) | 86.7 | +5.9 |' \
        in table
    # a +CLD run stopped earlier is compared at its own last epoch
    c = str(tmp_path / 'c')
    _write_log(c, '20260101_000000', [{'knn/top1': 33.0, 'step': 1},
                                      {'knn/top1': 44.0, 'step': 2}])
    table = rt.markdown(rt.collect([f'NPID={a}', f'NPID+CLD={c}']))
    assert '| NPID+CLD | 2 | 44.00 | 44.00 | +2.00 (ep 2) |' in table
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        rl.metric_curve(str(tmp_path))
    with pytest.raises(KeyError, match='METHOD='):
        rt.collect([a])          # no dumped config: the method is unknown
