"""Cross-rank state on a real 2-process gloo group.

One spawn (a module-scoped fixture) runs every worker below; each test checks
one property against a single-process reference computed here:

* MoCo's shuffle-BN (``batch_shuffle_ddp`` / ``batch_unshuffle_ddp``) deals
  the global batch out as a permutation and restores each rank's order.
* MoCo's queue is identical on both ranks after steps with different local
  batches, and holds the keys of the global batch in rank order.
* One NPID step over a global batch of 8 split 4 + 4 under DDP equals one
  single-process step over the 8: the loss (mean of the ranks' losses), every
  gradient (DDP averages them) and the memory bank after the update. This
  holds with a per-sample-independent norm (GroupNorm). With BatchNorm in
  training mode it must NOT hold: each rank normalises with the statistics
  of its own 4 samples instead of all 8 (SyncBN would restore equality), so
  the test asserts that the BN losses and gradients differ.
* :class:`cld_mm.engine.NaNGuardOptimWrapper`: a NaN loss on rank 0 only
  makes both ranks skip the step together (no DDP hang, weights equal).
"""
import pytest
import torch
import torch.nn.functional as F

from dist_utils import run_gloo
from utils import moco_model, npid_model

MOCO = moco_model(queue_len=32, feat_dim=16, momentum=0.01)


def npid_cfg(norm):
    return npid_model(16, feat_dim=16, norm_cfg=norm)


NORMS = dict(gn=dict(type='GN', num_groups=8), bn=dict(type='BN'))


def global_batch():
    """Two views of 8 images (16 px) and their dataset indices."""
    g = torch.Generator().manual_seed(123)
    views = [torch.rand(8, 3, 16, 16, generator=g) for _ in range(2)]
    return views, list(range(3, 11))


def samples(idx):
    from mmpretrain.structures import DataSample
    return [DataSample(metainfo=dict(sample_idx=i)) for i in idx]


def npid_step(model, views, idx):
    """One forward/backward; returns loss, gradients and the updated bank."""
    loss = model(views, samples(idx), mode='loss')['loss']
    loss.backward()
    module = getattr(model, 'module', model)
    grads = {n: p.grad.clone() for n, p in module.named_parameters()}
    return loss.detach(), grads, module.memory_bank.clone()


def _shuffle(rank):
    from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
    x = (rank * 100 + torch.arange(4.)).unsqueeze(1).repeat(1, 3)
    torch.manual_seed(0)
    shuffled, idx_unshuffle = batch_shuffle_ddp(x)
    return x, shuffled, idx_unshuffle, batch_unshuffle_ddp(shuffled,
                                                           idx_unshuffle)


def _moco(rank):
    from mmengine.dist import all_gather
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)  # same initial weights and queue on both ranks
    model = MODELS.build(MOCO)
    init = model.queue.clone()
    model.eval()  # BN on running statistics: keys are per-sample, checkable
    torch.manual_seed(100 + rank)  # different local batches
    views = [torch.rand(4, 3, 16, 16) for _ in range(2)]
    model.loss(views, samples(range(4)))
    im_k = torch.cat(all_gather(views[1]))  # the global batch of keys, 8
    with torch.no_grad():
        ref = F.normalize(model.encoder_k(im_k)[0], dim=1)
    after_one = model.queue.clone()
    model.train()  # a second step with shuffle-BN in training mode
    model.loss([torch.rand(4, 3, 16, 16) for _ in range(2)],
               samples(range(4)))
    return init, after_one, ref, model.queue.clone(), model.queue_ptr.clone()


def _npid_ddp(rank):
    from mmpretrain.registry import MODELS
    from torch.nn.parallel import DistributedDataParallel
    views, idx = global_batch()
    local = slice(rank * 4, rank * 4 + 4)
    out = {}
    for name, norm in NORMS.items():
        torch.manual_seed(0)
        model = DistributedDataParallel(MODELS.build(npid_cfg(norm)))
        out[name] = npid_step(model, [v[local] for v in views], idx[local])
    return out


def _nan_guard(rank):
    from torch.nn.parallel import DistributedDataParallel

    from cld_mm.engine import NaNGuardOptimWrapper
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(3, 1))
    wrapper = NaNGuardOptimWrapper(torch.optim.SGD(model.parameters(), lr=1))
    before = model.module.weight.detach().clone()
    x = torch.ones(2, 3) * (rank + 1)
    bad = float('nan') if rank == 0 else 1.0
    wrapper.update_params(model(x).sum() * bad)  # NaN on rank 0 only
    skipped = wrapper.last_step_skipped
    after_skip = model.module.weight.detach().clone()
    wrapper.update_params(model(x).sum())  # then a normal step
    return before, skipped, after_skip, model.module.weight.detach().clone()


def _worker(rank, world_size):
    import cld_mm  # noqa: F401
    return dict(shuffle=_shuffle(rank), moco=_moco(rank), npid=_npid_ddp(rank),
                nan=_nan_guard(rank))


@pytest.fixture(scope='module')
def ranks():
    return run_gloo(_worker, 2)


def test_shuffle_bn_restores_order(ranks):
    (x0, s0, u0, b0), (x1, s1, u1, b1) = [r['shuffle'] for r in ranks]
    assert torch.equal(u0, u1)  # one permutation, broadcast from rank 0
    glob = torch.cat([x0, x1])
    shuffle = torch.argsort(u0)  # idx_unshuffle = argsort(idx_shuffle)
    assert torch.equal(torch.cat([s0, s1]), glob[shuffle])
    assert not torch.equal(shuffle, torch.arange(8))  # really shuffled
    assert not torch.equal(s0, x0)
    assert torch.equal(b0, x0) and torch.equal(b1, x1)  # order restored


def test_moco_queue_identical_and_ordered(ranks):
    (i0, a0, ref0, q0, p0), (i1, a1, ref1, q1, p1) = [r['moco'] for r in ranks]
    assert torch.equal(i0, i1)
    assert torch.equal(a0, a1) and torch.equal(q0, q1)
    assert int(p0) == int(p1) == 16  # two steps of a global batch of 8
    # step 1 wrote the 8 keys of rank 0 then rank 1 into columns 0..7
    torch.testing.assert_close(a0[:, :8], ref0.t(), atol=1e-5, rtol=1e-4)
    assert torch.equal(a0[:, 8:], i0[:, 8:])
    assert torch.equal(q0[:, 16:], i0[:, 16:])
    assert (q0[:, 8:16] - a0[:, 8:16]).abs().sum() > 0


def _single_process(norm):
    from mmpretrain.registry import MODELS

    import cld_mm  # noqa: F401
    torch.manual_seed(0)
    model = MODELS.build(npid_cfg(norm))
    views, idx = global_batch()
    return npid_step(model, views, idx)


def test_npid_two_ranks_equal_one_process_with_groupnorm(ranks):
    loss, grads, bank = _single_process(NORMS['gn'])
    (l0, g0, b0), (l1, g1, b1) = [r['npid']['gn'] for r in ranks]
    torch.testing.assert_close((l0 + l1) / 2, loss, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(l0, l1)  # the ranks saw different samples
    for name, g in grads.items():
        assert torch.equal(g0[name], g1[name]), name  # DDP-averaged
        torch.testing.assert_close(g0[name], g, rtol=1e-4, atol=1e-6,
                                   msg=name)
    assert torch.equal(b0, b1)
    torch.testing.assert_close(b0, bank, rtol=1e-5, atol=1e-6)


def test_npid_batchnorm_statistics_differ_across_ranks(ranks):
    loss, grads, _ = _single_process(NORMS['bn'])
    (l0, g0, _), (l1, _, _) = [r['npid']['bn'] for r in ranks]
    assert not torch.allclose((l0 + l1) / 2, loss, rtol=1e-4, atol=1e-5)
    w = 'backbone.conv1.weight'
    assert not torch.allclose(g0[w], grads[w], rtol=1e-3, atol=1e-5)


def test_nan_on_one_rank_skips_on_all(ranks):
    (b0, s0, a0, n0), (b1, s1, a1, n1) = [r['nan'] for r in ranks]
    assert s0 and s1  # the healthy rank skipped too
    assert torch.equal(a0, b0) and torch.equal(a1, b1)
    assert torch.equal(n0, n1) and not torch.equal(n0, b0)
    # the normal step used the DDP-averaged gradient: mean over ranks of
    # d(sum_rows x w)/dw = 2 * (rank + 1) -> 3, times lr 1
    torch.testing.assert_close(n0, b0 - 3.0)
