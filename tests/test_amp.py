"""Mixed precision on CPU: bfloat16 autocast for every algorithm.

Each algorithm (NPID, NPID+CLD, MoCo+CLD, MoCo, BYOL+CLD, SMoG) trains 2
iterations through mmengine's ``train_step`` with
:class:`cld_mm.engine.step_options.MixedPrecisionOptimWrapper` (mmengine's
``AmpOptimWrapper`` on the model's device, here the CPU), ``dtype='bfloat16'``,
and the same 2 iterations in float32 from the same weights and batches. The
losses are finite, the master weights stay float32, and each bfloat16 loss
term is within ``TOL`` of its float32 value: at the first iteration (same
weights, same batch) ``|bf16 - fp32| <= 0.03 + 2 % |fp32|``; at the second,
whose weights come from one bfloat16 and one float32 step, ``0.1 + 5 %``.
bfloat16 keeps 8 bits of mantissa (relative rounding 2**-9 = 0.2 %) and the
tiny networks' layers accumulate a few such roundings; the CLD and SMoG
terms go through a clustering, itself float32 but fed with features rounded
to bfloat16. Measured here (torch 2.13 CPU): at most 0.016 at the first
iteration (BYOL+CLD, loss 0.69), 0.053 at the second.

k-means and the kNN metric run in float32 with autocast disabled: under
autocast their results equal the float32 computation on the same inputs,
where bfloat16 matmuls would not.
"""
import copy

import pytest
import tiny_models as tm
import torch
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from tiny_smog import smog_cfg

from cld_mm.engine.step_options import MixedPrecisionOptimWrapper
from cld_mm.evaluation.knn import weighted_knn_scores
from cld_mm.models.utils.kmeans import assign_nearest, batch_kmeans, kmeans

from utils import deterministic_views, t20_config

# bfloat16 loss vs float32 loss, per term: (absolute, relative) per step
TOL = ((0.03, 0.02), (0.1, 0.05))
BATCH = 8


def _cases():
    npid = tm.npid(bank_size=2 * BATCH, feat_dim=8, temperature=0.1)
    moco = tm.moco(tm.linear_neck(8), queue_len=16, feat_dim=8,
                   momentum=0.01, temperature=0.2)
    group = tm.linear_neck(8)
    return {
        'NPID': (npid, 2),
        'NPIDCLD': (tm.with_cld(npid, 'NPIDCLD', group, 3, 0.2, 1.0), 2),
        'MoCoCLD': (tm.with_cld(moco, 'MoCoCLD', group, 3, 0.2, 0.8), 3),
        'EvalMoCo': (moco, 2),
        'BYOLCLD': (tm.with_cld(tm.byol(16, 8, 0.01), 'BYOLCLD', group, 3,
                                0.2, 1.0), 2),
        'SMoG': (smog_cfg(total_iters=2), 2),
    }


CASES = _cases()


def _batch(step, views):
    g = torch.Generator().manual_seed(10 + step)
    size = tm.IMG
    return dict(inputs=[torch.rand(BATCH, 3, size, size, generator=g) * 255
                        for _ in range(views)],
                data_samples=[DataSample(metainfo=dict(sample_idx=i))
                              for i in range(step * BATCH,
                                             (step + 1) * BATCH)])


def _train(model, wrapper, views):
    """2 iterations; returns each iteration's logged values."""
    torch.manual_seed(5)  # the same draws (shuffle-BN, NCE) in both runs
    # BYOL's cosine EMA reads the schedule length, as in a Runner
    MessageHub.get_current_instance().update_info('max_iters', 2)
    logs = []
    for step in range(2):
        out = model.train_step(_batch(step, views), wrapper)
        logs.append({k: float(v.detach()) if isinstance(v, torch.Tensor)
                     else float(v) for k, v in out.items()})
    return logs


def _loss_terms(log):
    return {k: v for k, v in log.items() if 'loss' in k}


@pytest.mark.parametrize('name', sorted(CASES))
def test_bfloat16_training_matches_float32(name):
    cfg, views = CASES[name]
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    model.float().train()
    m32, m16 = copy.deepcopy(model), copy.deepcopy(model)
    w32 = OptimWrapper(torch.optim.SGD(m32.parameters(), lr=0.05))
    w16 = MixedPrecisionOptimWrapper(
        dtype='bfloat16', optimizer=torch.optim.SGD(m16.parameters(),
                                                    lr=0.05))
    assert isinstance(w16, AmpOptimWrapper)
    assert w16.cast_dtype == torch.bfloat16
    log32, log16 = _train(m32, w32, views), _train(m16, w16, views)
    for step, (a, b) in enumerate(zip(log32, log16)):
        assert set(a) == set(b)
        for key in _loss_terms(a):
            assert torch.isfinite(torch.tensor(b[key])), (step, key)
            atol, rtol = TOL[step]
            assert abs(b[key] - a[key]) <= atol + rtol * abs(a[key]), \
                (name, step, key, a[key], b[key])
    # the step ran in bfloat16 (its losses are not the float32 ones), the
    # weights it updated are float32 and moved
    assert any(log16[0][k] != log32[0][k] for k in _loss_terms(log32[0]))
    before = dict(model.named_parameters())
    moved = 0
    for key, p in m16.named_parameters():
        assert p.dtype == torch.float32, key
        moved += int(p.requires_grad and not torch.equal(p, before[key]))
    assert moved > 0
    for key, buf in m16.named_buffers():
        if buf.is_floating_point():
            assert buf.dtype == torch.float32, key  # bank, queue, groups


def _unit_rows(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g),
                                         dim=1)


def _lloyd_first_k(x, k, iters):
    """Plain Lloyd k-means (first-K init, squared Euclidean), as CLD runs
    it: under autocast its matmul runs in bfloat16."""
    c = x[:k].clone()
    for _ in range(iters):
        labels = (2 * x @ c.t() - (c * c).sum(1)[None]).argmax(1)
        sums = torch.zeros(k, x.shape[1], dtype=x.dtype).index_add(0, labels,
                                                                   x)
        c = sums / torch.bincount(labels, minlength=k).clamp_min(1)[:, None]
    return labels, c


def test_kmeans_is_float32_under_autocast():
    # unstructured unit rows: many rows are nearly equidistant from two
    # centroids, where bfloat16 distances pick the other one
    x, k = _unit_rows(256, 32, 0), 24
    ref_labels, ref_c = _lloyd_first_k(x, k, 5)  # float32, no autocast
    with torch.autocast('cpu', dtype=torch.bfloat16):
        naive_labels, _ = _lloyd_first_k(x, k, 5)
        labels, c = batch_kmeans(x, k, num_iters=5)
        big_labels, big_c = kmeans(x, k, num_iters=5, init='first',
                                   spherical=False)
        nearest = assign_nearest(x, ref_c)
    assert not torch.equal(naive_labels, ref_labels)  # what autocast does
    assert c.dtype == big_c.dtype == torch.float32
    assert torch.equal(labels, ref_labels)
    torch.testing.assert_close(c, ref_c, rtol=0, atol=1e-6)
    # kmeans() assigns once more after its last update
    after = (2 * x @ ref_c.t() - (ref_c ** 2).sum(1)).argmax(1)
    assert torch.equal(big_labels, after) and torch.equal(nearest, after)
    torch.testing.assert_close(big_c, ref_c, rtol=0, atol=1e-6)


def test_kmeans_of_bfloat16_features_computes_in_float32():
    x16 = _unit_rows(256, 32, 0).bfloat16()
    labels, c = batch_kmeans(x16, 24, num_iters=5)
    ref_labels, ref_c = batch_kmeans(x16.float(), 24, num_iters=5)
    assert c.dtype == torch.bfloat16  # returned in the input's dtype
    assert torch.equal(labels, ref_labels)
    assert torch.equal(c, ref_c.bfloat16())


def test_knn_scores_are_float32_under_autocast():
    memory, query = _unit_rows(200, 32, 1), _unit_rows(50, 32, 2)
    labels = torch.arange(200) % 10
    ref = weighted_knn_scores(query, memory, labels, 10, k=20)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = weighted_knn_scores(query, memory, labels, 10, k=20)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=0)
    # features extracted in bfloat16 are scored in float32
    got16 = weighted_knn_scores(query.bfloat16(), memory.bfloat16(), labels,
                                10, k=20)
    ref16 = weighted_knn_scores(query.bfloat16().float(),
                                memory.bfloat16().float(), labels, 10, k=20)
    assert got16.dtype == torch.float32 and torch.equal(got16, ref16)


def test_runner_bfloat16_with_knn_validation(tmp_path, cifar_t20):
    """A real Runner: NPID+CLD under the mixed-precision wrapper, kNN
    validation in bfloat16 autocast (``val_cfg.fp16``)."""
    cfg = t20_config(cifar_t20, str(tmp_path),
                     config='configs/cld/npid-cld_resnet18_1xb256-coslr-'
                     '200e_cifar10.py', validate=True)
    model = tm.with_cld(tm.npid(bank_size=20, feat_dim=8, temperature=0.1),
                        'NPIDCLD', tm.linear_neck(8), 3, 0.2, 1.0)
    cfg.model = dict(model, data_preprocessor=cfg.model.data_preprocessor)
    deterministic_views(cfg, size=tm.IMG)
    cfg.optim_wrapper.type = 'MixedPrecisionOptimWrapper'
    cfg.optim_wrapper.dtype = 'bfloat16'
    cfg.val_cfg = dict(fp16=True)
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    assert isinstance(runner.optim_wrapper, AmpOptimWrapper)
    scalars = runner.message_hub.log_scalars
    for key in ('train/loss_instance', 'train/loss_cld'):
        values = scalars[key].data[0]
        assert len(values) == 2 and all(map(torch.isfinite,
                                            torch.tensor(values)))
    metrics = runner.val_loop.run()
    assert 0 <= metrics['knn/top1'] <= metrics['knn/top5'] <= 100
