"""Analysis tools: feature helper, t-SNE, k-means NMI, retrieval grid."""
import importlib
import math
import os.path as osp
import sys

import matplotlib.image as mpimg
import pytest
import torch
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NPID_CFG = osp.join(REPO, 'configs/npid/'
                    'npid_resnet18_1xb256-coslr-200e_cifar10.py')
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))


def tool(name):
    return importlib.import_module(name)


@pytest.fixture(scope='module')
def tiny(cifar_slice, tmp_path_factory):
    """A config on the 80/40-image slice and two checkpoints (seeds 1, 2)."""
    from cld_mm.evaluation.features import load_model
    root, train_ann, test_ann = cifar_slice
    d = tmp_path_factory.mktemp('analysis')
    cfg = d / 'npid_tiny.py'
    cfg.write_text(
        f"_base_ = {NPID_CFG!r}\n"
        f"model = dict(bank_size=80)\n"
        f"test_dataloader = dict(dataset=dict(\n"
        f"    memory=dict(data_root={root + '/'!r}, ann_file={train_ann!r}),\n"
        f"    query=dict(data_root={root + '/'!r}, ann_file={test_ann!r})))\n")
    ckpts = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = load_model(str(cfg))
        path = d / f'seed{seed}.pth'
        torch.save(dict(state_dict=model.state_dict(), meta={}), path)
        ckpts.append(str(path))
    return str(cfg), ckpts, root, d


def test_load_features_uses_checkpoint_and_labels(tiny):
    from cld_mm.evaluation.features import (
        load_features,
        load_model,
        model_features,
    )
    cfg, (ck1, ck2), root, _ = tiny
    a = load_features(cfg, ck1, 'query')
    b = load_features(cfg, ck2, 'query', per_class=2)
    assert a['feats'].shape == (40, 128)
    torch.testing.assert_close(a['feats'].norm(dim=1), torch.ones(40))
    assert a['labels'].tolist() == [c for c in range(10) for _ in range(4)]
    assert b['labels'].tolist() == [c for c in range(10) for _ in range(2)]
    assert b['indices'][:4] == [0, 1, 4, 5]
    assert a['classes'][0] == 'airplane' and a['paths'][0].endswith(
        'test/airplane/0000.jpg')
    # the features are the checkpoint's: recompute image 0 by hand
    import mmcv
    model = load_model(cfg, ck1)
    img = mmcv.imread(a['paths'][0])                       # BGR uint8
    x = torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1)[None]
    mean = torch.tensor([125.307, 122.961, 113.8575])[:, None, None]
    std = torch.tensor([51.5865, 50.847, 51.255])[:, None, None]
    with torch.no_grad():
        ref = model_features(model, (x.float() - mean) / std)[0]
    torch.testing.assert_close(a['feats'][0], ref, atol=1e-5, rtol=1e-4)
    # another checkpoint gives other features
    assert (a['feats'][:2] - b['feats'][:2]).abs().max() > 1e-2


def test_load_features_errors(tiny):
    from cld_mm.evaluation.features import (
        balanced_indices,
        build_split_dataset,
        load_model,
    )
    cfg, _, _, _ = tiny
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        load_model(cfg, '/nonexistent.pth')
    with pytest.raises(ValueError, match='split must be one of'):
        build_split_dataset(cfg, 'val')
    with pytest.raises(ValueError, match='per_class'):
        balanced_indices(torch.tensor([0, 1]), 0)


def test_tsne_writes_png_and_embedding(tiny):
    import numpy as np
    cfg, (ck1, _), _, d = tiny
    out = str(d / 'tsne.png')
    res = tool('tsne').main([cfg, ck1, '--per-class', '3', '--out', out,
                             '--perplexity', '5'])
    img = mpimg.imread(out)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 400
    saved = np.load(out.replace('.png', '.npz'))
    assert saved['tsne'].shape == (30, 2)
    assert saved['labels'].tolist() == [c for c in range(10) for _ in range(3)]
    assert np.isfinite(saved['tsne']).all()
    assert list(res['panels']) in (['t-SNE'], ['t-SNE', 'UMAP'])


def test_cluster_scores_hand_values():
    cn = tool('cluster_nmi')
    assert cn.cluster_size_entropy(torch.tensor([0, 0, 1, 1]), 2) == 1.0
    expect = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert cn.cluster_size_entropy(torch.tensor([0, 0, 0, 1]), 2) == \
        pytest.approx(expect)
    # 4 classes on 4 orthogonal directions: k-means recovers them exactly
    labels = torch.arange(4).repeat_interleave(10)
    feats = F.normalize(F.one_hot(labels, 8).float()
                        + 0.05 * torch.randn(40, 8), dim=1)
    rows = cn.cluster_scores(feats, labels, [4, 8])
    assert rows[0]['k'] == 4 and rows[0]['nmi'] == pytest.approx(1.0)
    assert rows[0]['group_entropy'] == pytest.approx(0.0)
    assert rows[0]['size_entropy'] == pytest.approx(1.0)
    assert rows[1]['group_entropy'] == pytest.approx(0.0)  # splits stay pure
    assert rows[1]['nmi'] < 1.0
    with pytest.raises(ValueError, match='exceeds'):
        cn.cluster_scores(feats, labels, [41])


def test_cluster_nmi_cli(tiny):
    cfg, (ck1, ck2), _, d = tiny
    out = str(d / 'nmi.png')
    res = tool('cluster_nmi').main([cfg, ck1, 'none', '--ks', '5', '10',
                                    '--out', out])
    assert osp.getsize(out) > 10_000
    rows = res['results']['/'.join(ck1.split('/')[-2:])]
    assert [r['k'] for r in rows] == [5, 10]
    assert all(0 <= r['nmi'] <= 1 and r['group_entropy'] >= 0 for r in rows)
    assert 'random init' in res['results']


def test_top_neighbours():
    rg = tool('retrieval_grid')
    mem = torch.tensor([[1., 0.], [0., 1.], [0.6, 0.8], [-1., 0.]])
    q = torch.tensor([[0.8, 0.6], [0., -1.]])
    assert rg.top_neighbours(q, mem, 2).tolist() == [[2, 0], [3, 0]]
    with pytest.raises(ValueError, match='topk'):
        rg.top_neighbours(q, mem, 5)


def test_retrieval_grid_cli(tiny):
    from cld_mm.evaluation.features import load_features
    cfg, (ck1, ck2), _, d = tiny
    out = str(d / 'grid.png')
    res = tool('retrieval_grid').main([
        cfg, ck1, ck2, '--queries', '4', '--topk', '8',
        '--memory-per-class', '5', '--names', 'A', 'B', '--out', out])
    img = mpimg.imread(out)
    assert img.shape[1] > img.shape[0]           # 2 x 9 columns, 4 rows
    r = res['results'][0]
    assert r['query_labels'].tolist() == [0, 1, 2, 3]
    # the outline colour (correct) is the class of the neighbour's folder
    classes = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
               'frog', 'horse', 'ship', 'truck']
    for qi, row in enumerate(r['neighbour_paths']):
        for j, path in enumerate(row):
            same = path.split('/')[-2] == classes[qi]
            assert bool(r['correct'][qi, j]) == same
    # the neighbours are the 8 most similar of the 50-image memory
    q = load_features(cfg, ck1, 'query', per_class=1)
    m = load_features(cfg, ck1, 'memory', per_class=5)
    sims = q['feats'][:4] @ m['feats'].t()
    expect = [[m['paths'][j] for j in row]
              for row in sims.topk(8, dim=1).indices.tolist()]
    assert r['neighbour_paths'] == expect
    assert r['precision'] == pytest.approx(float(r['correct'].float().mean()))


def test_group_level_features_of_cld(cifar_slice):
    """level='group': a CLD model's group branch (for CLD group entropy)."""
    from cld_mm.evaluation.features import (
        build_split_dataset,
        extract_features,
        load_model,
    )
    root, _, test_ann = cifar_slice
    cfg = osp.join(REPO, 'configs/cld/npid-cld_resnet18_1xb256-coslr-'
                         '200e_cifar10.py')
    model = load_model(cfg, eval_level='group')
    assert model.eval_level == 'neck'          # 'group' is not a model level
    ds = build_split_dataset(cfg, 'query', data_root=root, ann_file=test_ann)
    grp = extract_features(model, ds, [0, 1, 2], level='group')['feats']
    inst = extract_features(model, ds, [0, 1, 2])['feats']
    assert grp.shape == inst.shape == (3, 128)
    torch.testing.assert_close(grp.norm(dim=1), torch.ones(3))
    assert (grp - inst).abs().max() > 1e-2     # another head
    from mmengine.dataset import default_collate
    with torch.no_grad():
        data = model.data_preprocessor(default_collate([ds[0]]), False)
        x = model.backbone(data['inputs'])
        ref = F.normalize(model.group_neck(x)[0], dim=1)[0]
    torch.testing.assert_close(grp[0], ref, atol=1e-5, rtol=1e-4)
    npid = load_model(NPID_CFG)
    with pytest.raises(ValueError, match='no CLD group branch'):
        extract_features(npid, ds, [0], level='group')


@pytest.mark.parametrize('name', ['tsne', 'cluster_nmi', 'hparam_search',
                                  'knn_eval'])
def test_help_shows_every_default_including_zero(name, capsys):
    """``--help`` names each set default, a ``--seed`` of 0 included (0 ==
    False must not hide it); options without a default say nothing."""
    with pytest.raises(SystemExit) as exc:
        tool(name).main(['--help'])
    assert exc.value.code == 0
    text = ' '.join(capsys.readouterr().out.split())
    assert '(default: None)' not in text and '(default: False)' not in text
    if name == 'knn_eval':
        assert '(default: 0.1)' in text and '(default: 200)' in text
    else:
        assert '--seed SEED' in text and '(default: 0)' in text
