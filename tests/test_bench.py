"""Benchmark scripts: correctness of what they time, and their outputs."""
import importlib
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'benchmarks'))
NPID = osp.join(REPO,
                'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py')
NPID_CLD = osp.join(REPO,
                    'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py')
MOCO_CLD = osp.join(REPO,
                    'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py')


def bench(name):
    return importlib.import_module(name)


def test_time_call_counts_and_validates():
    common = bench('common')
    calls = []
    t = common.time_call(lambda: calls.append(1), warmup=2, reps=3)
    assert len(calls) == 5 and t['reps'] == 3
    assert 0 <= t['min'] <= t['median'] <= t['max']
    with pytest.raises(ValueError):
        common.time_call(lambda: None, reps=0)


def test_broadcast_kmeans_hand_values():
    bk = bench('bench_kmeans').broadcast_kmeans
    x = torch.tensor([[1., 0.], [0.9, 0.1], [0., 1.]])
    labels, cent = bk(x, 2, 5)
    assert labels.tolist() == [0, 0, 1]
    torch.testing.assert_close(cent, torch.tensor([[0.95, 0.05], [0., 1.]]))
    # duplicate first rows: cluster 1 stays empty -> a zero centroid
    x = torch.tensor([[1., 0.], [1., 0.], [0., 1.]])
    labels, cent = bk(x, 3, 2)
    assert labels.tolist() == [0, 0, 2]
    torch.testing.assert_close(cent[1], torch.zeros(2))


def test_bench_kmeans_agrees_with_package():
    from cld_mm.models.utils.kmeans import batch_kmeans
    mod = bench('bench_kmeans')
    x = F.normalize(torch.randn(64, 16), dim=1).requires_grad_(True)
    la, ca = batch_kmeans(x, 16, 5)
    lb, cb = mod.broadcast_kmeans(x, 16, 5)
    assert torch.equal(la, lb)
    torch.testing.assert_close(ca, cb)
    ga, = torch.autograd.grad(ca.pow(2).sum(), x)
    gb, = torch.autograd.grad(cb.pow(2).sum(), x)
    torch.testing.assert_close(ga, gb)
    res = mod.main(['--n', '32', '--dim', '8', '--k', '8', '--reps', '2',
                    '--warmup', '1', '--threads', '1'])
    assert res['label_agreement'] == 1.0
    assert res['centroid_max_abs_diff'] < 1e-5
    assert res['speedup'] == pytest.approx(res['broadcast_ms']
                                           / res['batch_kmeans_ms'])


def test_swap_backbone_and_views():
    from mmengine.config import Config
    mod = bench('bench_train_step')
    cfg = Config.fromfile(NPID_CLD).model.to_dict()
    out = mod.swap_backbone(cfg, 'resnet50')
    assert out['backbone']['type'] == 'ResNet'
    assert out['backbone']['depth'] == 50
    assert out['neck']['in_channels'] == 2048
    assert out['group_neck']['in_channels'] == 2048
    assert out['neck']['out_channels'] == 128          # untouched
    assert mod.swap_backbone(cfg, 'config') is cfg
    with pytest.raises(ValueError, match='backbone'):
        mod.swap_backbone(cfg, 'vit')
    assert mod.config_views(Config.fromfile(MOCO_CLD)) == 3
    assert mod.config_views(Config.fromfile(NPID)) == 2


def test_step_runner_trains_and_ratio():
    mod = bench('bench_train_step')
    runner = mod.StepRunner(NPID_CLD, 'resnet18-cifar', batch=4, size=16,
                            device='cpu', amp=False)
    w0 = runner.model.backbone.conv1.weight.detach().clone()
    bank0 = runner.model.memory_bank[:4].clone()
    runner.step()
    assert not torch.equal(w0, runner.model.backbone.conv1.weight)
    assert not torch.equal(bank0, runner.model.memory_bank[:4])  # rows 0-3
    res = mod.main(['--batch', '4', '--size', '16', '--reps', '1',
                    '--warmup', '1', '--threads', '1',
                    '--pair', 'CLD / NPID', NPID_CLD, NPID,
                    '--pair', 'absent', 'configs/none/x.py', NPID])
    row, missing = res['rows']
    assert row['ratio'] == pytest.approx(row['a_s'] / row['b_s'])
    assert row['a_views'] == row['b_views'] == 2
    assert missing['missing'] == ['configs/none/x.py']
    assert 'ratio' not in missing


def test_bench_data_pipeline(cifar_slice):
    mod = bench('bench_data_pipeline')
    root, train_ann, _ = cifar_slice
    res = mod.main(['--configs', NPID, MOCO_CLD, '--workers', '0',
                    '--batch', '4', '--batches', '2', '--step-batches', '1',
                    '--ann-file', train_ann, '--data-root', root,
                    '--threads', '1'])
    assert [r['views'] for r in res['rows']] == [2, 3]
    for r in res['rows']:
        assert r['images_per_s'] > 0 and 0 <= r['wait_share'] <= 1
        assert r['step_s'] > 0
    # the three-view loader really yields three views of each image
    from mmengine.config import Config

    from cld_mm.evaluation.features import build_split_dataset
    cfg = Config.fromfile(MOCO_CLD)
    ds = build_split_dataset(cfg, 'train', data_root=root, ann_file=train_ann)
    batch = next(iter(mod.make_loader(cfg, ds, 4, 0)))
    assert len(batch['inputs']) == 3
    assert batch['inputs'][0].shape == (4, 3, 32, 32)


def test_bench_recluster_small():
    mod = bench('bench_recluster')
    res = mod.main(['--small', '--reps', '1', '--warmup', '0',
                    '--threads', '1'])
    assert (res['n'], res['dim'], res['k'], res['iters']) == (4000, 32, 100, 5)
    for name in ('faiss_path', 'torch_path', 'faiss_kmeans'):
        assert res[f'{name}_s']['median'] > 0
        # every path finds the planted structure (noise 0.6 / sqrt(dim))
        assert res[f'{name}_mean_cosine'] > 0.8
    assert res['ratio_faiss_path_over_faiss_kmeans'] == pytest.approx(
        res['faiss_path_s']['median'] / res['faiss_kmeans_s']['median'])
    # the two cld_mm paths compute the same centroids from the same seed
    assert res['paths_max_abs_diff'] < 1e-5


def test_bench_fast_path_small(cifar_slice, tmp_path):
    mod = bench('bench_fast_path')
    root, train_ann, _ = cifar_slice
    res = mod.main(['--small', '--ann-file', train_ann, '--data-root', root,
                    '--cache-dir', str(tmp_path), '--threads', '1'])
    assert [(r['setting'], r['views'], r['batch']) for r in res['rows']] == \
        [('32px-2v', 2, 4), ('96px-3v', 3, 4)]
    for r in res['rows']:
        for w in (0, 1):
            assert r[f'fast_over_mmcv_w{w}'] == pytest.approx(
                r['fast_images_per_s'] / r[f'mmcv_w{w}_images_per_s'])
            assert 0 <= r[f'mmcv_w{w}_wait_share'] <= 1
            assert r[f'mmcv_w{w}_step_over_fast'] == pytest.approx(
                r[f'mmcv_w{w}_step_s'] / r['fast_step_s'])
        assert 0 < r['fast_augment_share'] <= 1
    # the fast path of a setting draws the setting's views at its size
    from mmpretrain.registry import MODELS
    cfg = mod.setting_config('96px-3v', root, train_ann)
    dataset, pre_cfg = mod.fast_path(cfg, str(tmp_path))
    assert len(dataset) == sum(1 for _ in open(osp.join(root, train_ann)))
    item = dataset[0]
    assert item['inputs'].dtype == torch.uint8
    assert item['inputs'].shape == (3, 32, 32)
    pre = MODELS.build(pre_cfg)
    views = pre(dict(inputs=[dataset[i]['inputs'] for i in range(2)],
                     data_samples=None), training=True)['inputs']
    assert [tuple(v.shape) for v in views] == [(2, 3, 96, 96)] * 3
