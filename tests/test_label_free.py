"""Label-free criteria against hand-computed values."""
import math

import pytest
import torch
import torch.nn.functional as F

from cld_mm.evaluation.label_free import (
    alignment,
    label_free_scores,
    uniformity,
    view_retrieval,
)

# three images, 2-d unit features; image 2's views disagree
Z1 = torch.tensor([[1., 0.], [0., 1.], [-1., 0.]])
Z2 = torch.tensor([[1., 0.], [0., 1.], [0., -1.]])


def test_view_retrieval_hand_case():
    # a0->b0, a1->b1, b0->a0, b1->a1 hit; a2's nearest (sim 0, tie) is a1,
    # b2's nearest (sim 0, tie) is a0: 4 of 6
    assert view_retrieval(Z1, Z2) == pytest.approx(4 / 6)
    assert view_retrieval(Z1, Z1.clone()) == 1.0


def test_view_retrieval_swapped_pairs_and_chance():
    z = F.normalize(torch.randn(32, 16), dim=1)
    assert view_retrieval(z, z) == 1.0
    # the second view of image i is the first view of image i+1: every
    # nearest neighbour is the wrong image
    assert view_retrieval(z, z.roll(1, dims=0)) == 0.0
    # independent random views of 512 images: near chance 1/(2N-1)
    a = F.normalize(torch.randn(512, 64), dim=1)
    b = F.normalize(torch.randn(512, 64), dim=1)
    assert view_retrieval(a, b) < 0.01


def test_alignment_hand_values():
    # squared distances 0, 0, 2 -> mean 2/3; alpha=1: sqrt(2)/3
    assert alignment(Z1, Z2) == pytest.approx(2 / 3)
    assert alignment(Z1, Z2, alpha=1) == pytest.approx(math.sqrt(2) / 3)
    assert alignment(Z1, Z1) == 0.0


def test_uniformity_hand_values():
    # pairs of Z1: |a0-a1|^2 = 2, |a0-a2|^2 = 4, |a1-a2|^2 = 2
    expect = math.log((2 * math.exp(-4) + math.exp(-8)) / 3)
    assert uniformity(Z1) == pytest.approx(expect, rel=1e-6)
    expect_t1 = math.log((2 * math.exp(-2) + math.exp(-4)) / 3)
    assert uniformity(Z1, t=1) == pytest.approx(expect_t1, rel=1e-6)
    # a collapsed representation has the worst value, 0
    assert uniformity(torch.tensor([[1., 0.]] * 4)) == pytest.approx(0.0)


def test_label_free_scores_combines():
    s = label_free_scores(Z1, Z2)
    u = (uniformity(Z1) + uniformity(Z2)) / 2
    assert s['uniformity'] == pytest.approx(u)
    assert s['align_uniform'] == pytest.approx(2 / 3 + u)
    assert s['view_retrieval'] == pytest.approx(4 / 6)


@pytest.mark.parametrize('bad', [
    (torch.zeros(3, 2), torch.zeros(4, 2)),
    (torch.zeros(3), torch.zeros(3)),
    (torch.zeros(1, 2), torch.zeros(1, 2)),
])
def test_bad_shapes_raise(bad):
    with pytest.raises(ValueError):
        view_retrieval(*bad)
    with pytest.raises(ValueError):
        alignment(*bad)


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match='alpha'):
        alignment(Z1, Z2, alpha=0)
    with pytest.raises(ValueError, match='t must be'):
        uniformity(Z1, t=-1)
    with pytest.raises(ValueError, match='N >= 2'):
        uniformity(Z1[:1])
