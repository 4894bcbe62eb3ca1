"""The evaluation entry points on a tiny real checkpoint.

``tools/test.py`` (one process, in this process), ``tools/dist_test.sh`` (2
gloo processes) and ``tools/analysis/knn_eval.py`` evaluate the checkpoint of
a 2-iteration NPID run on the 20-image recipe (memory: the 20 training
images, queries: 40 test images). Their kNN accuracy is compared with a kNN
written here in float64 from the checkpoint's weights, and between 1 and 2
processes. Then the loading rule (:mod:`cld_mm.evaluation.checkpoint`):
a checkpoint whose evaluated weights do not fit stops both tools with the
keys listed; a memory bank of another size never does.
"""
import ast
import os
import os.path as osp
import runpy
import subprocess
import sys

import pytest
import torch
from mmengine.runner import Runner
from tiny_models import group_branch

from cld_mm.evaluation.checkpoint import CheckpointMismatchError, load_eval_checkpoint

from dist_utils import _free_port
from utils import NPID_CFG, REPO, t20_config

NPID_CLD_CFG = 'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py'
TEST = runpy.run_path(osp.join(REPO, 'tools', 'test.py'))['main']
KNN = runpy.run_path(osp.join(REPO, 'tools', 'analysis',
                              'knn_eval.py'))['main']


def _tiny_run(cifar_t20, work, config):
    """Train 1 epoch (2 iterations); returns (config file, checkpoint)."""
    cfg = t20_config(cifar_t20, str(work), config=config, validate=True)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.randomness = dict(seed=0)
    Runner.from_cfg(cfg).train()
    path = str(work / 'tiny.py')
    cfg.dump(path)
    return path, str(work / 'epoch_1.pth')


@pytest.fixture(scope='module')
def npid_run(tmp_path_factory, cifar_t20):
    return _tiny_run(cifar_t20, tmp_path_factory.mktemp('npid'), NPID_CFG)


@pytest.fixture(scope='module')
def one_process(npid_run, tmp_path_factory):
    """tools/test.py's metrics, one process."""
    config, ckpt = npid_run
    return TEST([config, ckpt, '--work-dir',
                 str(tmp_path_factory.mktemp('test1'))])


def _reference_knn(config, ckpt, k=200, t=0.1):
    """kNN top-1/top-5 (%) of the checkpoint's normalized neck features,
    float64 votes ``exp(sim / T)`` of the k nearest memory images."""
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS, MODELS
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(ckpt, weights_only=True)['state_dict'])
    model.eval()
    pre = cfg.model.data_preprocessor
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    items = [ds[i] for i in range(len(ds))]
    bgr = torch.stack([it['inputs'] for it in items]).float()
    x = (bgr.flip(1) - mean) / std  # BGR -> RGB, normalized
    with torch.no_grad():
        f = model.neck(model.backbone(x))[0].double()
    f = f / f.norm(dim=1, keepdim=True)
    role = torch.tensor([it['data_samples'].knn_role for it in items])
    y = torch.tensor([int(it['data_samples'].gt_label) for it in items])
    mem, qry = f[role == 0], f[role == 1]
    k = min(k, len(mem))
    top1 = top5 = 0
    for q, label in zip(qry, y[role == 1]):
        sim = mem @ q
        near = sim.argsort(descending=True)[:k]
        votes = torch.zeros(10, dtype=torch.float64)
        for j in near:
            votes[y[role == 0][j]] += torch.exp(sim[j] / t)
        ranked = votes.argsort(descending=True).tolist()
        top1 += ranked[0] == label
        top5 += label in ranked[:5]
    n = len(qry)
    return 100.0 * top1 / n, 100.0 * top5 / n


def test_test_tool_equals_reference_knn(npid_run, one_process):
    top1, top5 = _reference_knn(*npid_run)
    assert one_process['knn/top1'] == pytest.approx(top1)
    assert one_process['knn/top5'] == pytest.approx(top5)


def test_dist_test_sh_two_processes_equal_one(npid_run, one_process,
                                              tmp_path):
    config, ckpt = npid_run
    env = dict(os.environ, PORT=str(_free_port()), PYTHON=sys.executable,
               OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_test.sh'), config, ckpt, '2',
         '--work-dir', str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    printed = [line for line in proc.stdout.splitlines()
               if line.startswith('{')]
    assert len(printed) == 1, proc.stdout  # rank 0 prints the metrics
    two = ast.literal_eval(printed[0])
    # each rank extracts half of the 60 images; rank 0 gathers them all
    assert two == pytest.approx(one_process, abs=1e-9)


def test_knn_eval_equals_test_tool(npid_run, one_process, tmp_path):
    config, ckpt = npid_run
    metrics = KNN([config, ckpt, '--work-dir', str(tmp_path)])
    assert metrics == pytest.approx(one_process, abs=1e-9)


def _edited(ckpt, path, edit):
    state = torch.load(ckpt, weights_only=False)
    edit(state['state_dict'])
    torch.save(state, path)
    return str(path)


def test_bank_of_another_size_never_blocks(npid_run, one_process, tmp_path):
    config, ckpt = npid_run

    def bigger_bank(sd):
        sd['memory_bank'] = torch.cat([sd['memory_bank']] * 2)  # 40 rows

    other = _edited(ckpt, tmp_path / 'bank40.pth', bigger_bank)
    assert TEST([config, other, '--work-dir', str(tmp_path)]) == \
        pytest.approx(one_process, abs=1e-9)
    assert KNN([config, other, '--work-dir', str(tmp_path)]) == \
        pytest.approx(one_process, abs=1e-9)


def test_evaluated_weights_that_do_not_fit_stop_both_tools(npid_run,
                                                           tmp_path):
    config, ckpt = npid_run

    def narrow_neck(sd):  # a 64-d projection for the config's 128-d one
        sd['neck.fc.weight'] = sd['neck.fc.weight'][:64].clone()
        sd['neck.fc.bias'] = sd['neck.fc.bias'][:64].clone()

    def no_neck(sd):  # a backbone-only checkpoint
        for key in [k for k in sd if k.startswith('neck.')]:
            del sd[key]

    bad = _edited(ckpt, tmp_path / 'narrow.pth', narrow_neck)
    with pytest.raises(SystemExit, match=r'neck\.fc\.weight checkpoint '
                       r'\(64, 512\) vs model \(128, 512\)'):
        TEST([config, bad, '--work-dir', str(tmp_path)])
    with pytest.raises(SystemExit, match=r'neck\.fc\.bias checkpoint'):
        KNN([config, bad, '--work-dir', str(tmp_path)])
    bare = _edited(ckpt, tmp_path / 'bare.pth', no_neck)
    for tool in (TEST, KNN):
        with pytest.raises(SystemExit, match=r"level 'neck'.*\n.*missing 2 "
                           r'of \d+ keys: neck\.fc\.weight, neck\.fc\.bias'):
            tool([config, bare, '--work-dir', str(tmp_path)])
    # the backbone level does not read the neck: the same file evaluates
    assert set(KNN([config, bare, '--level', 'backbone', '--work-dir',
                    str(tmp_path)])) == {'knn/top1', 'knn/top5'}


def test_npid_checkpoint_for_a_cld_config(npid_run, tmp_path, cifar_t20,
                                          capfd):
    """The NPID weights are all an NPID+CLD model's kNN (neck level) reads:
    it evaluates, and says the group branch was not in the checkpoint; the
    group level needs that branch and stops with its keys."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    _, ckpt = npid_run
    cfg = t20_config(cifar_t20, str(tmp_path), config=NPID_CLD_CFG,
                     validate=True)
    config = str(tmp_path / 'npid_cld.py')
    cfg.dump(config)
    metrics = TEST([config, ckpt, '--work-dir', str(tmp_path)])
    assert set(metrics) == {'knn/top1', 'knn/top5'}
    err = capfd.readouterr().err
    assert 'not in the checkpoint' in err and 'loaded exactly' in err
    model = MODELS.build(Config.fromfile(config).model)
    branch = group_branch(model)
    prefix = next(n for n, m in model.named_modules() if m is branch)
    with pytest.raises(CheckpointMismatchError,
                       match=rf"level 'group'.*\n.*missing \d+ of \d+ keys: "
                       rf'{prefix}\.'):
        load_eval_checkpoint(model, ckpt, level='group')
