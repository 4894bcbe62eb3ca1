"""batch_kmeans (CLD's per-batch k-means) and the large-scale kmeans."""
import importlib
import warnings

import pytest
import torch
import torch.nn.functional as F

from cld_mm.models.utils import batch_kmeans, kmeans

# the module (the package attribute `kmeans` is the function)
km = importlib.import_module('cld_mm.models.utils.kmeans')


def authors_kmeans(x, k, num_iters=5):
    """A direct broadcast transcription of the CLD authors' formulation."""
    c = x[:k]
    for _ in range(num_iters):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)  # N x K
        labels = d.argmin(dim=1)
        rows = []
        for j in range(k):
            members = x[labels == j]
            rows.append(members.sum(0) / max(members.shape[0], 1))
        c = torch.stack(rows)
    return labels, c


def test_hand_computed_two_clusters():
    x = torch.tensor([[0., 0.], [1., 0.], [10., 0.], [11., 0.]])
    # iter 1: c = (0,0),(1,0) -> labels 0,1,1,1 -> c1 = (22/3, 0)
    # iter 2: labels 0,0,1,1 -> c = (0.5, 0), (10.5, 0); then stable
    labels, c = batch_kmeans(x, 2)
    assert labels.tolist() == [0, 0, 1, 1]
    assert torch.allclose(c, torch.tensor([[0.5, 0.], [10.5, 0.]]))
    labels1, c1 = batch_kmeans(x, 2, num_iters=1)
    assert labels1.tolist() == [0, 1, 1, 1]
    assert torch.allclose(c1, torch.tensor([[0., 0.], [22 / 3, 0.]]))


def test_tie_goes_to_lowest_index():
    x = torch.tensor([[0., 0.], [2., 0.], [1., 0.]])
    # row 2 is equidistant from (0,0) and (2,0) in iteration 1 -> cluster 0
    labels, c = batch_kmeans(x, 2, num_iters=1)
    assert labels.tolist() == [0, 1, 0]
    assert torch.allclose(c, torch.tensor([[0.5, 0.], [2., 0.]]))


def test_empty_cluster_gives_zero_centroid():
    x = torch.tensor([[1., 0.], [1., 0.], [0., 1.]])
    # both initial centroids are (1,0): every row ties -> cluster 0;
    # cluster 1 is empty -> zero centroid; scores of (0,1) against
    # c0 = (2/3, 1/3) stay positive (1/9 > 0) so nothing moves.
    labels, c = batch_kmeans(x, 2)
    assert labels.tolist() == [0, 0, 0]
    assert torch.allclose(c, torch.tensor([[2 / 3, 1 / 3], [0., 0.]]))


def test_more_clusters_than_rows_warns_once():
    x = F.normalize(torch.randn(3, 4), dim=1)
    km._warned_more_clusters_than_rows = False
    with pytest.warns(UserWarning, match='more clusters'):
        labels, c = batch_kmeans(x, 5)
    assert labels.tolist() == [0, 1, 2]
    assert torch.allclose(c[:3], x)
    assert torch.equal(c[3:], torch.zeros(2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        batch_kmeans(x, 5)  # second time: no warning


def test_gradient_through_centroids_not_labels():
    x = torch.tensor([[0., 0.], [1., 0.], [10., 0.], [11., 0.], [12., 0.]],
                     requires_grad=True)
    labels, c = batch_kmeans(x, 2)
    assert labels.tolist() == [0, 0, 1, 1, 1]
    assert not labels.requires_grad and labels.dtype == torch.long
    assert c.requires_grad
    w = torch.tensor([[1., 2.], [3., 4.]])
    (c * w).sum().backward()
    # d c_k / d x_i = 1 / n_k for the members i of cluster k
    expected = torch.tensor([[.5, 1.], [.5, 1.], [1., 4 / 3], [1., 4 / 3],
                             [1., 4 / 3]])
    assert torch.allclose(x.grad, expected)


@pytest.mark.parametrize('n,d,k', [(64, 16, 8), (128, 32, 40), (32, 8, 32)])
def test_equals_authors_broadcast_form(n, d, k):
    x = F.normalize(torch.randn(n, d), dim=1)
    labels, c = batch_kmeans(x, k)
    ref_labels, ref_c = authors_kmeans(x, k)
    assert torch.equal(labels, ref_labels)
    assert torch.allclose(c, ref_c, atol=1e-6)


def test_spherical_differs_from_euclidean_as_computed_by_hand():
    x = torch.tensor([[3., 0.], [0., 1.], [1., 0.1]])
    # Euclidean: (1, .1) is nearer (0, 1) than (3, 0)
    labels, c = batch_kmeans(x, 2)
    assert labels.tolist() == [0, 1, 1]
    assert torch.allclose(c, torch.tensor([[3., 0.], [0.5, 0.55]]))
    # cosine: (1, .1) is nearer the direction (1, 0)
    labels, c = batch_kmeans(x, 2, spherical=True)
    assert labels.tolist() == [0, 1, 0]
    assert torch.allclose(c, F.normalize(torch.tensor([[4., .1], [0., 1.]])))
    assert torch.allclose(c.norm(dim=1), torch.ones(2))


@pytest.mark.parametrize('init', ['random', 'kmeans++'])
def test_seeded_inits_are_reproducible_and_separate(init):
    centers = torch.eye(4) * 10
    x = (centers.repeat_interleave(8, 0) + 0.1 * torch.randn(32, 4))
    x = x[torch.randperm(32)]
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    l1, c1 = batch_kmeans(x, 4, init=init, generator=g1)
    l2, c2 = batch_kmeans(x, 4, init=init, generator=g2)
    assert torch.equal(l1, l2) and torch.equal(c1, c2)
    if init == 'kmeans++':  # D^2 seeding puts one seed in every blob here
        truth = x.argmax(dim=1)
        for j in range(4):
            assert l1[truth == j].unique().numel() == 1
        assert l1.unique().numel() == 4


def test_kmeanspp_picks_far_seeds():
    # two points far apart and many near duplicates of the first one:
    # after the first seed the far point holds nearly all D^2 mass
    x = torch.cat([torch.zeros(20, 2) + 1e-3 * torch.randn(20, 2),
                   torch.tensor([[100., 0.]])])
    init = km._initial_centroids(x, 2, 'kmeans++',
                                 torch.Generator().manual_seed(0), False)
    assert (init[:, 0] > 50).sum() == 1


@pytest.mark.parametrize('bad', [
    dict(x=torch.randn(4), num_clusters=2),
    dict(x=torch.randn(2, 3, 4), num_clusters=2),
    dict(x=torch.randn(4, 3), num_clusters=0),
    dict(x=torch.randn(4, 3), num_clusters=2, num_iters=0),
    dict(x=torch.randn(4, 3), num_clusters=2, init='fancy'),
])
@pytest.mark.parametrize('fn', [batch_kmeans, kmeans])
def test_bad_input_raises(bad, fn):
    with pytest.raises(ValueError):
        fn(**bad)


def test_large_kmeans_recovers_separated_clusters():
    g = torch.Generator().manual_seed(0)
    centers = F.normalize(torch.randn(20, 32, generator=g), dim=1)
    truth = torch.randint(20, (4000,), generator=g)
    x = centers[truth] + 0.02 * torch.randn(4000, 32, generator=g)
    labels, c = kmeans(x, 20, init='kmeans++', chunk_size=700,
                       generator=torch.Generator().manual_seed(1))
    assert labels.shape == (4000,) and c.shape == (20, 32)
    assert torch.allclose(c.norm(dim=1), torch.ones(20), atol=1e-5)
    # a perfect one-to-one match between true clusters and found clusters
    for j in range(20):
        assert labels[truth == j].unique().numel() == 1
    assert labels.unique().numel() == 20
    # returned labels are the nearest returned centroid (cosine)
    assert torch.equal(labels, (F.normalize(x, dim=1) @ c.t()).argmax(1))


def test_large_kmeans_chunking_does_not_change_the_result():
    x = torch.randn(1000, 16)
    a = kmeans(x, 30, generator=torch.Generator().manual_seed(5))
    b = kmeans(x, 30, chunk_size=97, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.allclose(a[1], b[1])


def test_large_kmeans_reseeds_empty_clusters():
    x = torch.cat([torch.tensor([[1., 0.]]).repeat(10, 1),
                   torch.tensor([[0., 1.]]).repeat(10, 1)])
    # 'first' seeds three copies of (1, 0): clusters 1 and 2 start empty
    labels, c = kmeans(x, 3, init='first', num_iters=3,
                       generator=torch.Generator().manual_seed(0))
    assert torch.allclose(c.norm(dim=1), torch.ones(3))  # no zero centroid
    assert set(labels[:10].tolist()).isdisjoint(labels[10:].tolist())
    # Euclidean mode keeps means (not unit rows)
    labels, c = kmeans(x * 2, 2, spherical=False, init='random',
                       generator=torch.Generator().manual_seed(0))
    assert set(labels[:10].tolist()) == {int(labels[0])}
    assert set(labels[10:].tolist()) == {1 - int(labels[0])}
    assert torch.allclose(c[labels[0]], torch.tensor([2., 0.]))
    assert torch.allclose(c[labels[10]], torch.tensor([0., 2.]))


def test_large_kmeans_rejects_more_clusters_than_rows():
    with pytest.raises(ValueError, match='num_clusters <= N'):
        kmeans(torch.randn(5, 3), 6)
