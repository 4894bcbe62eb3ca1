"""SMoG's groups and feature cache stay identical on 2 real gloo ranks."""
import torch

from dist_utils import run_gloo


def _smog_worker(rank, world_size):
    from mmpretrain.registry import MODELS

    import cld_mm  # noqa: F401
    torch.manual_seed(100 + rank)  # different initial groups on purpose
    model = MODELS.build(dict(
        type='SMoG', num_groups=6, feat_dim=16, cache_size=16,
        kmeans_iters=3, beta=0.9, total_iters=8,
        backbone=dict(type='ResNet_CIFAR', depth=18),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32,
                  out_channels=16, norm_cfg=dict(type='BN1d')),
        predictor=dict(type='NonLinearNeck', in_channels=16, hid_channels=32,
                       out_channels=16, with_avg_pool=False,
                       with_last_bn=False, norm_cfg=dict(type='BN1d'))))
    trace = []
    for step in range(4):  # different local batches on the two ranks
        views = [torch.rand(4, 3, 16, 16) for _ in range(2)]
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
    model.loss([torch.rand(4, 3, 16, 16) for _ in range(2)], None)
    return dict(trace=trace, cache=model.feature_cache.clone(), pre=pre,
                post=post, fired=fired, final=model.groups.clone(),
                target=target, online=online)


def test_groups_identical_across_ranks():
    r0, r1 = run_gloo(_smog_worker, 2)
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
