"""The quickstart config: the shipped recipe on less data, both kNN figures.

The full quickstart run (under 10 minutes on 2 idle cores) is not part of
the suite; here the config is compared with the recipe it inherits (the
same method; only the backbone's stride, the data path and the schedule
differ), and a real Runner trains it for 2 iterations on 20 images (16 px
crops) with kNN on 40 test images before and after.
"""
import copy
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from utils import REPO, small_crops, tiny_config

QUICKSTART = ('configs/quickstart/'
              'moco-cld_resnet18-s2_1xb128-coslr-6e_cifar10-5k.py')
RECIPE = 'configs/repro/moco-cld_resnet18_1xb128-coslr-10e_cifar10-5k.py'


def _load(path):
    return Config.fromfile(osp.join(REPO, path))


def test_quickstart_is_the_recipe_with_a_shorter_schedule():
    q, r = _load(QUICKSTART), _load(RECIPE)
    # everything that defines the method is the recipe's
    for key in ('val_dataloader', 'test_dataloader', 'optim_wrapper',
                'val_evaluator'):
        assert q.get(key) == r.get(key), key
    qm, rm = q.model.to_dict(), r.model.to_dict()
    # the backbone: the recipe's CIFAR ResNet-18 (same layers and weight
    # shapes), every stage at stride 2 instead of (1, 2, 2, 2)
    assert qm['backbone'].pop('strides') == (2, 2, 2, 2)
    assert rm['backbone'].pop('strides', (1, 2, 2, 2)) == (1, 2, 2, 2)
    # the data path: the recipe's own view pipeline, drawn on the device
    qp, rp = qm.pop('data_preprocessor'), rm.pop('data_preprocessor')
    assert qm == rm                               # algorithm, necks, heads
    views = [t for t in r.train_dataloader.dataset.pipeline
             if t['type'] == 'MultiView']
    assert len(views) == 1 and len(views[0]['transforms']) == 1
    assert qp.pop('type') == 'DeviceMultiViewPreprocessor'
    assert qp.pop('view_pipeline') == views[0]['transforms'][0]
    assert qp.pop('num_views') == views[0]['num_views'] == 3
    rp.pop('type')
    assert qp == rp                               # mean, std, channel order
    ql, rl = q.train_dataloader.to_dict(), r.train_dataloader.to_dict()
    wrapped = ql.pop('dataset')
    assert wrapped['type'] == 'InMemoryImages'
    assert wrapped['dataset'] == rl.pop('dataset')
    assert ql.pop('num_workers') == 0
    for key in ('num_workers', 'persistent_workers'):
        ql.pop(key, None), rl.pop(key, None)
    assert ql == rl                               # batch 128, sampler
    assert q.train_dataloader.batch_size == 128
    assert wrapped['dataset']['ann_file'] == 'meta/train_5k.txt'
    assert q.val_dataloader.dataset.query.ann_file == 'meta/test_1k.txt'
    # only the schedule is shorter: warm-up epoch, cosine to the last epoch
    epochs = q.train_cfg.max_epochs
    assert epochs < r.train_cfg.max_epochs
    assert q.train_cfg.val_interval == epochs        # kNN at the end
    warm, cos = q.param_scheduler
    assert (warm.type, warm.begin, warm.end) == ('LinearLR', 0, 1)
    assert (cos.type, cos.begin, cos.end, cos.T_max) == (
        'CosineAnnealingLR', 1, epochs, epochs - 1)
    for a, b in zip(q.param_scheduler, r.param_scheduler):
        a, b = dict(a), dict(b)
        for k in ('end', 'T_max'):
            a.pop(k, None), b.pop(k, None)
        assert a == b
    # and the random-init kNN runs before training
    types = [h['type'] for h in q.custom_hooks]
    assert types == [h['type'] for h in r.get('custom_hooks', [])] + [
        'ValBeforeTrainHook']
    # the TensorBoard variant differs only in the visualizer
    tb = glob.glob(osp.join(REPO, 'configs/quickstart/*_tensorboard.py'))
    assert len(tb) == 1
    t = Config.fromfile(tb[0])
    assert [b['type'] for b in t.visualizer.vis_backends] == [
        'LocalVisBackend', 'TensorboardVisBackend']
    for key in ('model', 'train_dataloader', 'param_scheduler', 'train_cfg',
                'custom_hooks', 'optim_wrapper'):
        assert t[key] == q[key], key


def test_backbone_stride_quarters_the_work_and_keeps_the_weights():
    """Stride 2 in the first stage: the recipe's layers plus the 1x1
    shortcut projection every strided block has (layer1.0.downsample), and
    feature maps of a quarter the area at every stage (so about 4x fewer
    multiply-adds)."""
    import torch
    from mmpretrain.registry import MODELS
    q, r = _load(QUICKSTART), _load(RECIPE)
    fast, full = (MODELS.build(c.model.backbone) for c in (q, r))
    shapes = {k: v.shape for k, v in fast.state_dict().items()}
    extra = {k: shapes.pop(k) for k in list(shapes)
             if k.startswith('layer1.0.downsample.')}
    assert shapes == {k: v.shape for k, v in full.state_dict().items()}
    assert extra['layer1.0.downsample.0.weight'] == (64, 64, 1, 1)
    assert len(extra) == 6                        # conv + BN (5 entries)
    x = torch.zeros(1, 3, 32, 32)
    fast.eval(), full.eval()
    with torch.no_grad():
        assert fast(x)[-1].shape == (1, 512, 2, 2)
        assert full(x)[-1].shape == (1, 512, 4, 4)


class _Snapshot(Hook):
    """Keeps the weights the training starts from (before any hook's val)."""

    priority = 'HIGHEST'

    def before_train(self, runner):
        self.state = copy.deepcopy(runner.model.state_dict())


def test_two_iterations_log_random_init_and_trained_knn(tmp_path, cifar_t20):
    root, train_ann, test_ann = cifar_t20
    cfg = tiny_config(QUICKSTART, str(tmp_path), root, train_ann, test_ann,
                      batch_size=8, max_iters=2)
    small_crops(cfg.model.data_preprocessor.view_pipeline)
    cfg.train_dataloader.dataset.cache_dir = str(tmp_path / 'arrays')
    cfg.log_level = 'INFO'
    runner = Runner.from_cfg(cfg)
    snap = _Snapshot()
    runner.register_hook(snap)
    runner.train()
    assert runner.iter == 2
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'ValBeforeTrainHook')
    before, last = hook.before, hook.last
    # the before-training figure is the kNN of the starting weights, the
    # last one that of the trained weights
    trained = copy.deepcopy(runner.model.state_dict())
    runner.model.load_state_dict(snap.state)
    assert runner.val_loop.run()['knn/top1'] == pytest.approx(before)
    runner.model.load_state_dict(trained)
    assert runner.val_loop.run()['knn/top1'] == pytest.approx(last)
    assert any((snap.state[k] != v).any() for k, v in trained.items()
               if k.startswith('backbone.') and v.dtype.is_floating_point)
    for v in (before, last):   # 40 queries: multiples of 2.5 %
        assert v / 2.5 == pytest.approx(round(v / 2.5), abs=1e-6)
    # both figures are in the log, the summary at its end
    log = open(glob.glob(osp.join(str(tmp_path), '*', '*.log'))[0]).read()
    assert f'random init kNN top-1: {before:.1f} %' in log
    summary = re.findall(r'random init kNN top-1: ([\d.]+) % -> trained kNN '
                         r'top-1: ([\d.]+) % \(([+-][\d.]+) points\)', log)
    assert summary == [(f'{before:.1f}', f'{last:.1f}',
                        f'{last - before:+.1f}')]
