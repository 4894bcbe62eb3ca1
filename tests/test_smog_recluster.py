"""SMoG's re-clustering and feature cache on a tiny model: skipped while
under-filled, then the groups come from the cache and the momentum encoder
is reset; the faiss and torch k-means give the same groups; the FIFO."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from tiny_smog import (
    CACHE_SIZE,
    NUM_GROUPS,
    build_tiny_smog,
    smog_cfg,
    tiny_views,
)

from cld_mm.models.utils.kmeans_faiss import faiss_available


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


def _seeded_cache(model, n=CACHE_SIZE, seed=7):
    """Fill the cache with n unit rows around NUM_GROUPS directions."""
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(NUM_GROUPS, model.feat_dim,
                                      generator=gen), dim=1)
    rows = centres[torch.arange(n) % NUM_GROUPS] + 0.3 * torch.randn(
        n, model.feat_dim, generator=gen)
    model.push_cache(F.normalize(rows, dim=1).to(model.groups.dtype))
    return model


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_faiss_and_torch_backends_give_the_same_groups(dtype):
    """The same seeded draws and Lloyd steps; faiss searches in float32.

    Tolerance: the faiss path computes in float32, so in float32 the groups
    agree to rounding (1e-6); from a float64 cache they agree to float32
    precision (1e-6 absolute). The assignments of every cached row agree
    exactly (no ties on random data).
    """
    assert faiss_available()  # a test dependency (requirements/tests.txt)
    groups = {}
    for backend in ('torch', 'faiss', 'auto'):
        model = _seeded_cache(build_tiny_smog(dtype=dtype,
                                              recluster_backend=backend))
        assert model.recluster() is True
        groups[backend] = model.groups.clone()
        cache = model.feature_cache.clone()
    torch.testing.assert_close(groups['faiss'], groups['torch'], rtol=0,
                               atol=1e-6)
    # 'auto' on a CPU cache with faiss installed: the faiss path
    assert torch.equal(groups['auto'], groups['faiss'])
    assert torch.equal((cache @ groups['faiss'].t()).argmax(1),
                       (cache @ groups['torch'].t()).argmax(1))
    # and they are k-means centroids, not the initial groups: every group
    # is the unit mean of the rows assigned to it
    labels = (cache @ groups['torch'].t()).argmax(1)
    for k in labels.unique():
        torch.testing.assert_close(
            groups['torch'][k], F.normalize(cache[labels == k].sum(0),
                                            dim=0), rtol=0, atol=1e-6)


def test_recluster_backend_bad_value():
    with pytest.raises(ValueError, match="recluster_backend must be one of"):
        MODELS.build(smog_cfg(recluster_backend='sklearn'))


def test_fifo_cache_wraps_around_by_value():
    """Rows go in at the pointer, modulo the size; the oldest are overwritten;
    a push longer than the cache keeps its last rows."""
    model = build_tiny_smog()
    size, dim = CACHE_SIZE, model.feat_dim  # 12
    rows = torch.arange(30 * dim, dtype=torch.float64).view(30, dim)
    model.push_cache(rows[:7])
    assert (int(model.cache_ptr), int(model.cache_filled)) == (7, 7)
    assert torch.equal(model.feature_cache[:7], rows[:7])
    assert not model.feature_cache[7:].any()
    model.push_cache(rows[7:15])  # 8 rows: 5 at 7..11, 3 wrap to 0..2
    assert (int(model.cache_ptr), int(model.cache_filled)) == (3, size)
    want = torch.cat([rows[12:15], rows[3:12]])
    assert torch.equal(model.feature_cache, want)
    model.push_cache(rows[15:30])  # 15 > 12 rows: the last 12 are kept
    kept = rows[18:30]  # written from pointer 3: rows 18.. at 3, 4, ...
    want = torch.roll(kept, shifts=3, dims=0)
    assert torch.equal(model.feature_cache, want)
    assert (int(model.cache_ptr), int(model.cache_filled)) == (
        (3 + 12) % size, size)
