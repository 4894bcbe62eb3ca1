"""Weighted kNN classification of features (NPID's and CLD's evaluation).

For each query, the k most cosine-similar memory (training) features vote for
their labels with weight ``exp(sim / T)``; classes are ranked by total vote.
Scores are computed in float32 at least, with autocast disabled, whatever
precision the features were extracted in (bfloat16 similarities would round
the neighbours' order and ``exp(sim / T)`` to 8 bits).
"""
from typing import List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

from ..models.utils.precision import as_float32, full_precision


def weighted_knn_scores(query: torch.Tensor, memory: torch.Tensor,
                        memory_labels: torch.Tensor, num_classes: int,
                        k: int = 200, temperature: float = 0.1,
                        chunk_size: int = 1024) -> torch.Tensor:
    """Class scores of each query by weighted kNN voting.

    Args:
        query (Tensor): (Q, D) unit query features.
        memory (Tensor): (M, D) unit memory features.
        memory_labels (Tensor): (M,) integer labels.
        num_classes (int): number of classes C.
        k (int): neighbours. Capped at M. Defaults to 200.
        temperature (float): T in ``exp(sim / T)``. Defaults to 0.1.
        chunk_size (int): queries scored at once (bounds memory).

    Returns:
        Tensor: (Q, C) summed vote weights, float32 (float64 for float64
        inputs).
    """
    if query.shape[1] != memory.shape[1]:
        raise ValueError(f'query dim {query.shape[1]} != memory dim '
                         f'{memory.shape[1]}')
    query = as_float32(query)
    memory = as_float32(memory).to(query.dtype)
    with full_precision(query.device):
        return _knn_votes(query, memory, memory_labels, num_classes, k,
                          temperature, chunk_size)


def _knn_votes(query: torch.Tensor, memory: torch.Tensor,
               memory_labels: torch.Tensor, num_classes: int, k: int,
               temperature: float, chunk_size: int) -> torch.Tensor:
    k = min(k, memory.shape[0])
    out = []
    for q in query.split(chunk_size):
        # sim: chunk x M
        sim = q @ memory.t()
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()          # chunk x k
        votes = torch.zeros(q.shape[0], num_classes, dtype=weights.dtype,
                            device=q.device)
        votes.scatter_add_(1, memory_labels[top_idx], weights)
        out.append(votes)
    return torch.cat(out, dim=0)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor,
                  topk: Sequence[int] = (1, 5)) -> List[float]:
    """Percentage of rows whose label is among the top-k scored classes."""
    maxk = min(max(topk), scores.shape[1])
    pred = scores.topk(maxk, dim=1).indices                # Q x maxk
    hit = pred.eq(labels[:, None])
    return [float(hit[:, :min(t, maxk)].any(dim=1).float().mean() * 100)
            for t in topk]


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """Weighted kNN top-k accuracy, computed in the val/test loop.

    The loop's dataset is a :class:`cld_mm.datasets.KNNDataset`: the training
    images (with test transforms) tagged ``knn_role=0`` form the memory, the
    test images (``knn_role=1``) the queries. The model's ``predict`` mode
    returns ``eval_feat`` per sample.

    Args:
        k (int): neighbours. Defaults to 200.
        temperature (float): vote temperature. Defaults to 0.1.
        topk (Sequence[int]): accuracies reported. Defaults to (1, 5).
        prefix (str, optional): metric name prefix. Defaults to 'knn'.
    """
    default_prefix: Optional[str] = 'knn'

    def __init__(self, k: int = 200, temperature: float = 0.1,
                 topk: Sequence[int] = (1, 5), collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if k < 1:
            raise ValueError(f'k must be >= 1, got {k}')
        if temperature <= 0:
            raise ValueError(f'Illegal temperature {temperature}: must be > 0')
        self.k, self.temperature, self.topk = k, temperature, tuple(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'eval_feat' not in sample:
                raise KeyError('KNNAccuracy needs `eval_feat` in the model '
                               'outputs: use a cld_mm algorithm in predict mode')
            role = sample.get('knn_role')
            if role is None:
                raise KeyError('KNNAccuracy needs `knn_role` in data samples: '
                               'wrap the val data in `KNNDataset`')
            self.results.append((int(role), sample['eval_feat'].cpu(),
                                 int(sample['gt_label'].reshape(-1)[0])))

    def compute_metrics(self, results: list) -> dict:
        mem = [(f, y) for r, f, y in results if r == 0]
        qry = [(f, y) for r, f, y in results if r == 1]
        if not mem or not qry:
            raise ValueError(f'kNN needs memory and query samples, got '
                             f'{len(mem)} and {len(qry)}')
        mem_f = torch.stack([f for f, _ in mem]).float()
        mem_y = torch.tensor([y for _, y in mem])
        q_f = torch.stack([f for f, _ in qry]).float()
        q_y = torch.tensor([y for _, y in qry])
        num_classes = int(max(mem_y.max(), q_y.max())) + 1
        scores = weighted_knn_scores(q_f, mem_f, mem_y, num_classes, self.k,
                                     self.temperature)
        accs = topk_accuracy(scores, q_y, self.topk)
        return {f'top{t}': a for t, a in zip(self.topk, accs)}
