"""SMoG on 2 real gloo ranks: identical state on both ranks, and the same
step as one process over the concatenated batch."""
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tiny_smog import build_tiny_smog, tiny_views

from dist_utils import run_gloo


def _smog_worker(rank, world_size):
    # different initial weights and groups on the two ranks on purpose
    model = build_tiny_smog(seed=100 + rank, dtype=torch.float32,
                            fixed_beta=0.9, cache_size=16)
    trace = []
    for step in range(4):  # different local batches on the two ranks
        views = tiny_views(4, seed=100 * rank + step, dtype=torch.float32)
        before = model.groups.clone()
        model.loss(views, None)['loss_group'].backward()
        trace.append((before, model.groups.clone()))
    pre = model.groups.clone()
    fired = model.recluster()
    post = model.groups.clone()
    target = {k: v.clone()
              for k, v in model.target.module.state_dict().items()}
    online = {k: v.clone() for k, v in torch.nn.Sequential(
        model.backbone, model.neck).state_dict().items()}
    model.loss(tiny_views(4, seed=50 + rank, dtype=torch.float32), None)
    return dict(trace=trace, cache=model.feature_cache.clone(), pre=pre,
                post=post, fired=fired, final=model.groups.clone(),
                target=target, online=online)


def _both_workers(rank, world_size):
    """One gloo spawn for both tests (spawning costs most of their time)."""
    return dict(identical=_smog_worker(rank, world_size),
                steps=_run_steps(rank, world_size))


@pytest.fixture(scope='module')
def gloo_results():
    return run_gloo(_both_workers, 2)


def test_groups_identical_across_ranks(gloo_results):
    r0, r1 = (r['identical'] for r in gloo_results)
    for (b0, a0), (b1, a1) in zip(r0['trace'], r1['trace']):
        assert torch.equal(a0, a1)  # the same groups after every step
        assert (a0 - b0).abs().max() > 1e-4  # and they moved
    # the cache holds both ranks' embeddings (4 steps x 2 ranks x 4 = 32,
    # FIFO of 16): identical on both
    assert torch.equal(r0['cache'], r1['cache'])
    torch.testing.assert_close(r0['cache'].norm(dim=1), torch.ones(16))
    # re-clustering gives the same new groups on both ranks
    assert r0['fired'] and r1['fired']
    assert torch.equal(r0['post'], r1['post'])
    assert (r0['post'] - r0['pre']).abs().max() > 1e-3
    assert torch.equal(r0['final'], r1['final'])
    # the momentum encoder was reset to the online weights
    for k, v in r0['target'].items():
        assert torch.equal(v, r0['online'][k]), k


# --------------------------------------------------------------------------
# 2 ranks (each half the batch) against 1 process over the whole batch.
#
# Must match: the groups after every momentum update, the online and target
# assignments, the loss (mean over ranks = the one-process mean, equal
# halves), the instance term (keys gathered from both ranks), the gradients
# after DDP's averaging (sum of the ranks' gradients / world size), the
# feature cache and pointer, beta, and the groups after a re-clustering.
# May differ, and are not compared: `groups_used` (each rank counts its own
# targets) and BatchNorm batch statistics (each rank normalizes its half;
# plain BN, SyncBN needs a GPU), so every BN layer runs on its running
# statistics here (eval mode), which makes each sample's features
# independent of the rest of the batch. `group_acc` is a per-rank mean, so
# the ranks' mean is compared.
BATCH, STEPS, N_LOCAL, LR = 8, 3, 2, 0.5


def _freeze_bn(model):
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model


def _named(model):
    return [(f'{k}.{n}', p) for k in ('backbone', 'neck', 'predictor')
            for n, p in getattr(model, k).named_parameters()]


def _run_steps(rank, world_size):
    """STEPS SMoG steps on this rank's share of the batch, then recluster."""
    model = _freeze_bn(build_tiny_smog(total_iters=STEPS,
                                       instance_weight=0.5))
    share = BATCH // world_size
    trace = []
    for step in range(STEPS):
        views = [v[rank * share:(rank + 1) * share]
                 for v in tiny_views(BATCH, n_local=N_LOCAL, seed=10 + step)]
        before = model.groups.clone()
        out = model.loss(views, None)
        sum(v for k, v in out.items() if 'loss' in k).backward()
        grads = {}
        for name, p in _named(model):
            if world_size > 1:  # DDP: all-reduce, divide by world size
                dist.all_reduce(p.grad)
                p.grad /= world_size
            grads[name] = p.grad.clone()
        with torch.no_grad():
            # assignments against the groups before the step: targets from
            # the (already updated) momentum encoder, members from the
            # online projections of both global views
            targets = [(model.target_features(v) @ before.t()).argmax(1)
                       for v in views[:2]]
            members = [(F.normalize(model.project(v), dim=1)
                        @ before.t()).argmax(1) for v in views[:2]]
            for _, p in _named(model):  # the same SGD step everywhere
                p -= LR * p.grad
                p.grad = None
        trace.append(dict(
            out={k: v.detach().clone() for k, v in out.items()},
            grads=grads, groups=model.groups.clone(), targets=targets,
            members=members, cache=model.feature_cache.clone(),
            ptr=int(model.cache_ptr), filled=int(model.cache_filled)))
    fired = model.recluster()
    return dict(trace=trace, fired=fired, regrouped=model.groups.clone())


def test_two_ranks_equal_one_process_over_the_whole_batch(gloo_results):
    one = _run_steps(0, 1)  # this process, no process group
    r0, r1 = (r['steps'] for r in gloo_results)

    def close(got, want, what):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12,
                                   msg=lambda m: f'{what}: {m}')

    for step, (w, a, b) in enumerate(zip(one['trace'], r0['trace'],
                                         r1['trace'])):
        for key in ('loss_group', 'loss_instance', 'group_acc'):
            close(0.5 * (a['out'][key] + b['out'][key]).double(),
                  w['out'][key].double(), f'step {step} {key}')
        assert float(a['out']['beta']) == float(w['out']['beta'])
        for name, g in w['grads'].items():
            assert torch.equal(a['grads'][name], b['grads'][name]), name
            close(a['grads'][name], g, f'step {step} grad {name}')
        for key in ('targets', 'members'):
            for view in range(2):
                assert torch.equal(torch.cat([a[key][view], b[key][view]]),
                                   w[key][view]), (step, key, view)
        for r in (a, b):
            close(r['groups'], w['groups'], f'step {step} groups')
            close(r['cache'], w['cache'], f'step {step} cache')
            assert (r['ptr'], r['filled']) == (w['ptr'], w['filled'])
    # the groups moved
    assert (one['trace'][-1]['groups'] - one['trace'][0]['groups']).abs(
    ).max() > 1e-3
    assert one['fired'] and r0['fired'] and r1['fired']
    close(r0['regrouped'], one['regrouped'], 'groups after re-clustering')
    assert torch.equal(r0['regrouped'], r1['regrouped'])
