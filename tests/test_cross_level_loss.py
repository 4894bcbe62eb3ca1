"""cross_level_loss: values and gradients against hand computations."""
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from cld_mm.models.losses import cross_level_loss, cross_level_loss_with_stats


def _leaf(rows):
    return torch.tensor(rows, dtype=torch.float64, requires_grad=True)


def _own_cluster_grads(fa, fb, t):
    """Hand gradient of L when every row is its own cluster (C = rows).

    With s = f_a f_b^T / T and P = softmax(s) row-wise, and the symmetric
    term with P' = softmax(s^T):
      dL/df_a = 1/(2N T) [(P - I) f_b + (P' - I)^T f_b]
    (and symmetrically for f_b).
    """
    n = fa.shape[0]
    s = fa @ fb.t() / t
    p, q = s.softmax(dim=1), s.t().softmax(dim=1)
    eye = torch.eye(n, dtype=fa.dtype)
    ga = ((p - eye) @ fb + (q - eye).t() @ fb) / (2 * n * t)
    gb = ((q - eye) @ fa + (p - eye).t() @ fa) / (2 * n * t)
    return ga, gb


def test_every_row_its_own_cluster_value_and_gradient():
    fa = _leaf([[1., 0.], [0., 1.]])
    fb = _leaf([[0.6, 0.8], [0.8, -0.6]])
    # k-means on fb: row 1 is nearer centroid 1 (itself): labels [0, 1]
    loss, stats = cross_level_loss_with_stats(fa, fb, num_clusters=2,
                                              temperature=0.5)
    s = fa.detach() @ fb.detach().t() / 0.5
    expected = 0.5 * (F.cross_entropy(s, torch.arange(2)) +
                      F.cross_entropy(s.t(), torch.arange(2)))
    # by hand: s = [[1.2, 1.6], [1.6, -1.2]]
    row0 = -1.2 + math.log(math.exp(1.2) + math.exp(1.6))
    row1 = 1.2 + math.log(math.exp(1.6) + math.exp(-1.2))
    assert math.isclose(float(expected), (row0 + row1) / 2, rel_tol=1e-9)
    assert torch.allclose(loss, expected)
    # row 0's top logit is column 1 (label 0), row 1's column 0 (label 1)
    assert float(stats['group_acc']) == 0.0
    assert float(stats['num_groups']) == 2.0
    loss.backward()
    ga, gb = _own_cluster_grads(fa.detach(), fb.detach(), 0.5)
    assert torch.allclose(fa.grad, ga) and torch.allclose(fb.grad, gb)


def test_more_clusters_than_rows_adds_zero_logits():
    fa = _leaf([[1., 0.], [0., 1.]])
    fb = _leaf([[1., 0.], [0., 1.]])
    with warnings.catch_warnings():  # K > N warns once per process
        warnings.simplefilter('ignore')
        loss = cross_level_loss(fa, fb, num_clusters=4, temperature=1.0)
    # logits of each row: [1, 0, 0, 0] (two zero centroids), label its own
    assert math.isclose(float(loss), -1 + math.log(math.e + 3), rel_tol=1e-9)
    loss.backward()
    # zero centroids have no gradient path: same gradient as K = N with two
    # extra constant logits, i.e. P over 4 columns restricted to 2
    s = torch.eye(2, dtype=torch.float64)
    p = torch.softmax(torch.cat([s, torch.zeros(2, 2, dtype=s.dtype)], 1),
                      1)[:, :2]
    ga = ((p - torch.eye(2)) @ fb.detach() + (p - torch.eye(2)).t()
          @ fb.detach()) / 4
    assert torch.allclose(fa.grad, ga)


def test_empty_cluster_value_and_gradient():
    rows = [[1., 0.], [1., 0.], [0., 1.]]
    fa, fb = _leaf(rows), _leaf(rows)
    # both views: every row in cluster 0, c0 = (2/3, 1/3), c1 = 0 (empty)
    loss, stats = cross_level_loss_with_stats(fa, fb, 2, temperature=1.0)
    s = torch.tensor([2 / 3, 2 / 3, 1 / 3], dtype=torch.float64)
    # CE with logits [s_i, 0] and label 0 = softplus(-s_i)
    expected = F.softplus(-s).mean()
    assert torch.allclose(loss, expected)
    assert float(stats['group_acc']) == 100.0
    assert float(stats['num_groups']) == 1.0
    loss.backward()
    # L_ab = 1/3 sum_i softplus(-a_i . c0(b)), c0(b) = mean_j b_j
    # dL_ab/da_i = -1/3 sigma(-s_i) c0 ; dL_ab/db_j = -1/9 sum_i sigma(-s_i) a_i
    x = torch.tensor(rows, dtype=torch.float64)
    c0 = x.mean(0)
    w = torch.sigmoid(-s)
    d_direct = -(w[:, None] * c0[None, :]) / 3
    d_through_centroid = -(w[:, None] * x).sum(0, keepdim=True).expand(3, 2) / 9
    expected_grad = 0.5 * (d_direct + d_through_centroid)
    assert torch.allclose(fa.grad, expected_grad)
    assert torch.allclose(fb.grad, expected_grad)


def test_spherical_option_uses_cosine_clusters():
    x = [[3., 0.], [0., 1.], [1., 0.1]]
    fa, fb = _leaf(x), _leaf(x)
    loss = cross_level_loss(fa, fb, 2, 1.0, spherical=True)
    # spherical: labels [0, 1, 0], C = normalize([[4, .1], [0, 1]])
    xt = torch.tensor(x, dtype=torch.float64)
    c = F.normalize(torch.tensor([[4., .1], [0., 1.]], dtype=torch.float64))
    expected = F.cross_entropy(xt @ c.t(), torch.tensor([0, 1, 0]))
    assert torch.allclose(loss, expected)
    # Euclidean (default): labels [0, 1, 1], C = [[3, 0], [.5, .55]]
    c = torch.tensor([[3., 0.], [.5, .55]], dtype=torch.float64)
    expected = F.cross_entropy(xt @ c.t(), torch.tensor([0, 1, 1]))
    assert torch.allclose(cross_level_loss(fa, fb, 2, 1.0), expected)


@pytest.mark.parametrize('init', ['random', 'kmeans++'])
def test_seeded_init_options(init):
    fa = F.normalize(torch.randn(16, 8), dim=1)
    fb = F.normalize(fa + 0.1 * torch.randn(16, 8), dim=1)
    a = cross_level_loss(fa, fb, 4, 0.2, init=init,
                         generator=torch.Generator().manual_seed(7))
    b = cross_level_loss(fa, fb, 4, 0.2, init=init,
                         generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and torch.isfinite(a)


def test_num_iters_changes_the_clustering():
    x = [[0., 0.], [1., 0.], [10., 0.], [11., 0.]]
    fa, fb = _leaf(x), _leaf(x)
    # 1 iteration: labels [0,1,1,1], C = [(0,0), (22/3,0)]
    xt = torch.tensor(x, dtype=torch.float64)
    c = torch.tensor([[0., 0.], [22 / 3, 0.]], dtype=torch.float64)
    expected = F.cross_entropy(xt @ c.t() / 2, torch.tensor([0, 1, 1, 1]))
    assert torch.allclose(cross_level_loss(fa, fb, 2, 2.0, num_iters=1),
                          expected)


@pytest.mark.parametrize('a,b,k,t,match', [
    (torch.randn(4, 3), torch.randn(4, 2), 2, 0.2, 'same shape'),
    (torch.randn(4, 3), torch.randn(5, 3), 2, 0.2, 'same shape'),
    (torch.randn(4), torch.randn(4), 2, 0.2, r'\(N, D\)'),
    (torch.randn(4, 3, 1), torch.randn(4, 3, 1), 2, 0.2, r'\(N, D\)'),
    (torch.randn(4, 3), torch.randn(4, 3), 0, 0.2, 'num_clusters'),
    (torch.randn(4, 3), torch.randn(4, 3), 2, 0.0, 'temperature'),
])
def test_bad_input(a, b, k, t, match):
    with pytest.raises(ValueError, match=match):
        cross_level_loss(a, b, k, t)
