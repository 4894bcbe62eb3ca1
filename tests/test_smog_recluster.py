"""SMoG's re-clustering on a tiny model: skipped while under-filled, then
the groups come from the cache and the momentum encoder is reset."""
import pytest
import torch
import torch.nn as nn
from tiny_smog import NUM_GROUPS, build_tiny_smog, tiny_views


def _state(model):
    return ({k: v.clone() for k, v in model.state_dict().items()})


def test_recluster_skipped_while_the_cache_is_under_filled_then_runs():
    model = build_tiny_smog(total_iters=4)
    model.loss(tiny_views(batch=3, seed=3), None)
    assert int(model.cache_filled) == 3 and NUM_GROUPS == 5
    before = _state(model)
    with pytest.warns(UserWarning, match='3 < num_groups=5'):
        assert model.recluster() is False
    after = model.state_dict()
    for k, v in before.items():  # nothing changed: groups, target, counts
        assert torch.equal(after[k], v), k

    model.loss(tiny_views(batch=3, seed=4), None)
    with torch.no_grad():  # an optimizer step: the online net moves
        for p in model.backbone.parameters():
            p.mul_(1.1)
    cache = model.feature_cache[:int(model.cache_filled)].clone()
    old = model.groups.clone()
    assert model.recluster() is True  # 6 >= 5 features
    assert int(model.num_reclusters) == 1
    g = model.groups
    assert (g - old).abs().max() > 1e-3
    torch.testing.assert_close(g.norm(dim=1),
                               torch.ones(NUM_GROUPS, dtype=g.dtype))
    # centroids are unit means of cached rows: they lie in the cache's span
    proj = g @ torch.linalg.pinv(cache) @ cache
    torch.testing.assert_close(proj, g, rtol=1e-6, atol=1e-9)
    # the momentum encoder was reset to the online network
    online = nn.Sequential(model.backbone, model.neck).state_dict()
    for k, v in model.target.module.state_dict().items():
        assert torch.equal(v, online[k]), k


def test_recluster_with_as_many_rows_as_groups_returns_the_rows():
    """K cached rows, K groups: each row is its own cluster."""
    model = build_tiny_smog(total_iters=4)
    model.loss(tiny_views(batch=3, seed=5), None)
    model.loss(tiny_views(batch=2, seed=6), None)
    assert int(model.cache_filled) == NUM_GROUPS
    rows = model.feature_cache[:NUM_GROUPS].clone()
    assert model.recluster() is True
    # the same set of unit vectors, in some order
    sim = model.groups @ rows.t()
    match = sim.argmax(dim=1)
    assert sorted(match.tolist()) == list(range(NUM_GROUPS))
    torch.testing.assert_close(model.groups, rows[match], rtol=1e-6,
                               atol=1e-9)
