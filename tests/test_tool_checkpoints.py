"""Analysis tools from the command line: checkpoints that fit, that do not,
and that differ only in what evaluation does not use.

Each of tsne.py, retrieval_grid.py, cluster_nmi.py and group_entropy.py runs
on shipped configs (ResNet-18 as shipped; only the data is shrunk: 16 px
copies of 2 + 2 CIFAR-10 images per class):

(a) a checkpoint of the config's own model: exit 0, outputs under the
    working directory's ``work_dirs/`` (or the ``--out`` given), mmengine's
    progress bar with counts and ETA on stderr;
(b) a checkpoint that does not fit (a narrower ResNet, an NPID checkpoint
    for a CLD config's group level or for a SMoG config): non-zero exit, no
    output, the missing / mismatched keys named;
(c) a checkpoint whose only difference is a memory bank / feature cache of
    another size: exit 0.

One success (tsne.py) and one refusal (group_entropy.py) run as real
subprocesses; the other runs execute the tool files as ``__main__`` in this
process (tests/tool_runner.py: the same ``__main__`` block, exit status and
stdout / stderr) while those two run, to keep the file fast.
"""
import copy
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from tool_runner import run_jobs
from utils import REPO, shrink_backbone, write_subset

TOOLS = osp.join(REPO, 'tools', 'analysis')
NPID = osp.join(REPO, 'configs/npid/'
                'npid_resnet18_1xb256-coslr-200e_cifar10.py')
NPID_CLD = osp.join(REPO, 'configs/cld/'
                    'npid-cld_resnet18_1xb256-coslr-200e_cifar10.py')
SMOG = osp.join(REPO, 'configs/smog/'
                'smog_resnet18_1xb128-coslr-200e_cifar10.py')
PER_CLASS = 2           # train and test images per class
N = 10 * PER_CLASS


def _tiny_data(src_root: str, dst: str) -> str:
    """16 px copies of the first PER_CLASS train / test images per class."""
    for split in ('train', 'test'):
        ann = write_subset(src_root, split, PER_CLASS,
                           f'{split}_t{10 * PER_CLASS}')
        lines = open(osp.join(src_root, ann)).read().split('\n')
        for line in filter(None, lines):
            rel = line.split()[0]
            img = mmcv.imread(osp.join(src_root, rel))
            out = osp.join(dst, rel)
            os.makedirs(osp.dirname(out), exist_ok=True)
            mmcv.imwrite(mmcv.imresize(img, (16, 16)), out)
        os.makedirs(osp.join(dst, 'meta'), exist_ok=True)
        with open(osp.join(dst, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines))
    return dst


def _config(base: str, root: str, path: str) -> str:
    """``base`` with its kNN data (memory, query) on the tiny folder, kept as
    Python lists (``serialize_data=False``: mmengine's serialisation for
    worker processes runs a full ``gc.collect()``, ~0.5 s in a test process,
    for each of the ~20 datasets these runs build; the tools load with
    ``num_workers=0``)."""
    with open(path, 'w') as f:
        f.write(f'_base_ = {base!r}\n'
                'test_dataloader = dict(dataset=dict(\n'
                f'    memory=dict(data_root={root!r}, '
                "ann_file='meta/train.txt', serialize_data=False),\n"
                f'    query=dict(data_root={root!r}, '
                "ann_file='meta/test.txt', serialize_data=False)))\n")
    return path


def _save(model_cfg: dict, path: str, seed: int = 0) -> str:
    """A checkpoint of ``model_cfg``'s randomly initialised model."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


@pytest.fixture(scope='module')
def setup(cifar10_root, tmp_path_factory):
    d = tmp_path_factory.mktemp('tool_ckpts')
    root = _tiny_data(cifar10_root, str(d / 'data')) + '/'
    cfgs = {name: _config(base, root, str(d / f'{name}.py'))
            for name, base in (('npid', NPID), ('npid_cld', NPID_CLD),
                               ('smog', SMOG))}
    models = {k: Config.fromfile(v).model.to_dict() for k, v in cfgs.items()}
    ck = {}
    ck['npid'] = _save(models['npid'], str(d / 'npid.pth'))
    ck['npid_bank20'] = _save(dict(models['npid'], bank_size=N),
                              str(d / 'npid_bank20.pth'), seed=1)
    ck['npid_narrow'] = _save(
        shrink_backbone(copy.deepcopy(models['npid']), base_channels=16),
        str(d / 'npid_narrow.pth'))
    ck['npid_cld'] = _save(models['npid_cld'], str(d / 'npid_cld.pth'))
    ck['smog'] = _save(models['smog'], str(d / 'smog.pth'))
    ck['smog_cache512'] = _save(dict(models['smog'], cache_size=512),
                               str(d / 'smog_cache512.pth'), seed=1)
    return d, cfgs, ck


@pytest.fixture(scope='module')
def runs(setup):
    d, cfgs, ck = setup
    cwd = str(d / 'cwd')
    os.makedirs(cwd)
    t = {name: osp.join(TOOLS, f'{name}.py')
         for name in ('tsne', 'retrieval_grid', 'cluster_nmi',
                      'group_entropy')}
    grid = ['--memory-per-class', str(PER_CLASS), '--topk', '2']
    jobs = {
        # (a) fitting checkpoints; cluster_nmi also gets (c) beside it
        'tsne_fit': [t['tsne'], cfgs['npid'], ck['npid'], '--no-umap'],
        'grid_fit': [t['retrieval_grid'], cfgs['npid'], ck['npid'], 'none',
                     *grid],
        'nmi_fit': [t['cluster_nmi'], cfgs['npid'], ck['npid'],
                    ck['npid_bank20'], '--ks', '2', '5'],
        'entropy_fit': [t['group_entropy'], cfgs['smog'], ck['smog']],
        # (b) checkpoints that do not fit
        'tsne_narrow': [t['tsne'], cfgs['npid'], ck['npid_narrow'],
                        '--no-umap', '--out', 'work_dirs/bad/tsne.png'],
        'grid_narrow': [t['retrieval_grid'], cfgs['npid'], ck['npid'],
                        ck['npid_narrow'], *grid, '--out',
                        'work_dirs/bad/grid.png'],
        'nmi_npid_for_cld': [t['cluster_nmi'], cfgs['npid_cld'], ck['npid'],
                             '--level', 'group', '--ks', '2', '--out',
                             'work_dirs/bad/nmi.png'],
        'entropy_npid_for_smog': [t['group_entropy'], cfgs['smog'],
                                  ck['npid'], '--out',
                                  'work_dirs/bad/entropy.png'],
        # (c) only a bank / cache of another size; outputs where --out says
        'tsne_bank': [t['tsne'], cfgs['npid'], ck['npid_bank20'],
                      '--no-umap', '--out', 'work_dirs/c/tsne.png'],
        'grid_bank': [t['retrieval_grid'], cfgs['npid'], ck['npid_bank20'],
                      ck['npid'], *grid, '--out', 'work_dirs/c/grid.png'],
        'entropy_cache': [t['group_entropy'], cfgs['smog'],
                          ck['smog_cache512'], '--out',
                          'work_dirs/c/entropy.png'],
        # the CLD group level with a CLD checkpoint
        'nmi_cld_group': [t['cluster_nmi'], cfgs['npid_cld'],
                          ck['npid_cld'], '--level', 'group', '--ks', '4',
                          '--out', 'work_dirs/c/nmi_group.png'],
    }
    # the command line itself: one success, one refusal
    real = {name: jobs.pop(name) for name in ('tsne_fit',
                                              'entropy_npid_for_smog')}
    return cwd, run_jobs(jobs, real, cwd)


def _ok(result):
    rc, out, err = result
    assert rc == 0, err[-3000:]
    return out, err


def _refused(result, tool, *names):
    rc, out, err = result
    assert rc != 0, out
    assert f'{tool}.py: error: ' in err, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]   # a message, not a crash
    assert 'does not fit' in err, err[-3000:]
    for name in names:
        assert name in err, (name, err[-3000:])
    return err


def _progress(err: str, total: int) -> None:
    """mmengine's ProgressBar: 'done/total, rate task/s, elapsed, ETA'."""
    assert f'{total}/{total}' in err and 'task/s' in err and 'ETA' in err, \
        err[-2000:]


def test_fitting_checkpoints_write_under_work_dirs(runs):
    cwd, res = runs
    analysis = osp.join(cwd, 'work_dirs', 'analysis')
    out, err = _ok(res['tsne_fit'])
    _progress(err, N)
    emb = np.load(osp.join(analysis, 'tsne.npz'))
    assert emb['tsne'].shape == (N, 2) and emb['labels'].tolist() == [
        c for c in range(10) for _ in range(PER_CLASS)]
    assert osp.getsize(osp.join(analysis, 'tsne.png')) > 0

    out, err = _ok(res['grid_fit'])
    _progress(err, 10 * PER_CLASS)               # the memory images
    assert out.count('of the top-2 neighbours share the query class') == 2
    assert osp.getsize(osp.join(analysis, 'retrieval_grid.png')) > 0

    out, err = _ok(res['nmi_fit'])
    rows = [r for r in out.splitlines() if r.startswith('| ') and
            r.split('|')[2].strip().isdigit()]
    assert len(rows) == 4                        # 2 checkpoints x 2 Ks
    _progress(err, N)
    assert osp.getsize(osp.join(analysis, 'cluster_nmi.png')) > 0

    out, err = _ok(res['entropy_fit'])
    _progress(err, N)
    import json
    with open(osp.join(analysis, 'group_entropy.json')) as f:
        summary = json.load(f)
    assert summary['num_images'] == N and summary['num_groups'] == 300
    assert 1 <= summary['num_nonempty_groups'] <= N
    assert osp.getsize(osp.join(analysis, 'group_entropy.png')) > 0
    # nothing lands beside the checkpoints
    assert not [f for f in os.listdir(osp.dirname(cwd))
                if f.endswith(('.png', '.npz', '.json'))]


def test_checkpoints_that_do_not_fit_are_refused(runs):
    cwd, res = runs
    # a narrower ResNet: the backbone weights of another shape are listed
    for job, tool in (('tsne_narrow', 'tsne'),
                      ('grid_narrow', 'retrieval_grid')):
        err = _refused(res[job], tool, 'npid_narrow.pth', 'NPID',
                       'backbone.conv1.weight checkpoint (16, 3, 3, 3) vs '
                       'model (64, 3, 3, 3)', 'keys of another shape')
    # NPID for NPID+CLD's group level: the missing group branch is named
    err = _refused(res['nmi_npid_for_cld'], 'cluster_nmi', 'NPIDCLD',
                   "level 'group'", 'missing')
    assert 'group_neck' in err or 'cld.' in err
    # NPID for SMoG's groups: the momentum encoder and the group table
    err = _refused(res['entropy_npid_for_smog'], 'group_entropy',
                   "level 'groups'", 'groups', 'target.')
    assert not osp.exists(osp.join(cwd, 'work_dirs', 'bad'))


def test_bank_or_cache_size_alone_does_not_block(runs):
    cwd, res = runs
    c = osp.join(cwd, 'work_dirs', 'c')
    for job, name in (('tsne_bank', 'memory_bank'),
                      ('grid_bank', 'memory_bank'),
                      ('entropy_cache', 'feature_cache')):
        out, err = _ok(res[job])
        assert name in err                       # named as unused
    # (c) beside (a) in one cluster_nmi call, rows for both checkpoints
    out, _ = _ok(res['nmi_fit'])
    assert 'npid_bank20.pth' in out and 'npid.pth' in out
    assert np.load(osp.join(c, 'tsne.npz'))['tsne'].shape == (N, 2)
    for f in ('grid.png', 'entropy.png', 'entropy.json', 'nmi_group.png'):
        assert osp.getsize(osp.join(c, f)) > 0, f
    out, _ = _ok(res['nmi_cld_group'])
    assert '| 4 |' in out
