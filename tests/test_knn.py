"""Weighted kNN: hand-made feature sets whose answer is known."""
import math

import pytest
import torch
from mmpretrain.registry import METRICS

from cld_mm.evaluation import KNNAccuracy, topk_accuracy, weighted_knn_scores


def unit(*angles):
    return torch.tensor([[math.cos(a), math.sin(a)] for a in angles])


def test_weighted_votes_hand_computed():
    memory = unit(0.0, 0.1, 3.0)
    labels = torch.tensor([0, 1, 2])
    query = unit(0.0)
    scores = weighted_knn_scores(query, memory, labels, 3, k=2, temperature=.5)
    # 2 nearest: angle 0 (sim 1, class 0) and angle 0.1 (sim cos .1, class 1)
    expected = torch.tensor([[math.exp(1 / .5), math.exp(math.cos(.1) / .5),
                              0.]])
    torch.testing.assert_close(scores, expected)


def test_weights_can_outvote_majority():
    # one very close neighbour of class 1 beats two far ones of class 0 when
    # the temperature is small, but not when it is large
    memory = unit(0.0, 1.2, -1.2)
    labels = torch.tensor([1, 0, 0])
    query = unit(0.0)
    sharp = weighted_knn_scores(query, memory, labels, 2, k=3, temperature=.1)
    flat = weighted_knn_scores(query, memory, labels, 2, k=3, temperature=10)
    assert sharp.argmax().item() == 1
    assert flat.argmax().item() == 0


def test_topk_accuracy():
    scores = torch.tensor([[.1, .5, .4], [.9, .05, .05], [.2, .3, .5]])
    labels = torch.tensor([2, 0, 0])
    assert topk_accuracy(scores, labels, (1, 2)) == pytest.approx(
        [100 / 3, 200 / 3])


def test_chunking_does_not_change_scores():
    g = torch.Generator().manual_seed(0)
    mem = torch.nn.functional.normalize(torch.randn(50, 8, generator=g), dim=1)
    qry = torch.nn.functional.normalize(torch.randn(13, 8, generator=g), dim=1)
    lab = torch.randint(4, (50, ), generator=g)
    a = weighted_knn_scores(qry, mem, lab, 4, k=7, chunk_size=1000)
    b = weighted_knn_scores(qry, mem, lab, 4, k=7, chunk_size=3)
    torch.testing.assert_close(a, b)


def test_metric_on_known_clusters():
    metric = METRICS.build(dict(type='KNNAccuracy', k=3, temperature=.1))
    assert isinstance(metric, KNNAccuracy)
    samples = []
    # memory: class c around angle c*pi/2; queries: 3 right, 1 wrong label
    for c in range(4):
        for d in (-.05, 0., .05):
            samples.append(dict(knn_role=0, gt_label=torch.tensor([c]),
                                eval_feat=unit(c * math.pi / 2 + d)[0]))
    for c, y in ((0, 0), (1, 1), (2, 2), (3, 0)):
        samples.append(dict(knn_role=1, gt_label=torch.tensor([y]),
                            eval_feat=unit(c * math.pi / 2 + .01)[0]))
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    assert out['top1'] == pytest.approx(75.0)
    assert out['top5'] == pytest.approx(100.0)


def test_metric_errors_name_the_problem():
    metric = KNNAccuracy()
    with pytest.raises(KeyError, match='eval_feat'):
        metric.process(None, [dict(knn_role=0, gt_label=torch.tensor([0]))])
    with pytest.raises(KeyError, match='KNNDataset'):
        metric.process(None, [dict(eval_feat=torch.ones(2),
                                   gt_label=torch.tensor([0]))])
    with pytest.raises(ValueError, match='memory and query'):
        metric.compute_metrics([(0, torch.ones(2), 0)])
    with pytest.raises(ValueError, match='k must be'):
        KNNAccuracy(k=0)
