"""SMoG's group-contrastive loss and the optional instance-contrastive term.

`Pang et al., 2022 <https://arxiv.org/abs/2207.06167>`_. Each online
prediction z_i^a is contrasted against the K group features; the positive is
the group c_i^b the momentum encoder assigns to the other view::

    L_i = -log softmax_j( sim(z_i^a, g_j) / tau )[c_i^b]

Pure functions: tensors in, tensors out.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F


def _check_temperature(temperature: float) -> None:
    if temperature <= 0:
        raise ValueError(f'Illegal temperature {temperature}: must be > 0')


def group_contrastive_term(preds: torch.Tensor, groups: torch.Tensor,
                           targets: torch.Tensor,
                           temperature: float = 0.1) -> torch.Tensor:
    """One direction: mean CE of ``normalize(preds) @ groups.T / tau``.

    Args:
        preds (Tensor): (N, D) online predictions of one view (normalized
            here).
        groups (Tensor): (K, D) unit group features; gradients flow into
            them.
        targets (Tensor): (N,) long groups assigned to the other view.
        temperature (float): tau. Defaults to 0.1.

    Returns:
        Tensor: scalar loss.
    """
    _check_temperature(temperature)
    if preds.dim() != 2 or groups.dim() != 2 or \
            preds.shape[1] != groups.shape[1]:
        raise ValueError(f'preds (N, D) and groups (K, D) must share D, got '
                         f'{tuple(preds.shape)} and {tuple(groups.shape)}')
    if targets.shape != (preds.shape[0], ):
        raise ValueError(f'targets must have shape ({preds.shape[0]},), got '
                         f'{tuple(targets.shape)}')
    # logits: NxK
    logits = F.normalize(preds, dim=1) @ groups.t() / temperature
    return F.cross_entropy(logits, targets)


def group_contrastive_loss(pred_a: torch.Tensor, pred_b: torch.Tensor,
                           groups: torch.Tensor, targets_a: torch.Tensor,
                           targets_b: torch.Tensor,
                           temperature: float = 0.1) -> torch.Tensor:
    """Symmetric group-contrastive loss of two views.

    ``0.5 * [CE(z^a G^T / tau, c^b) + CE(z^b G^T / tau, c^a)]``.

    Args:
        pred_a (Tensor): (N, D) online predictions z^a of view a.
        pred_b (Tensor): (N, D) online predictions z^b of view b.
        groups (Tensor): (K, D) unit group features G (SMoG: the ones updated
            in this step, so gradients reach the features that moved them).
        targets_a (Tensor): (N,) long groups c^a of view a (momentum encoder).
        targets_b (Tensor): (N,) long groups c^b of view b (momentum encoder).
        temperature (float): tau. Defaults to 0.1.

    Returns:
        Tensor: scalar loss.

    Examples:
        >>> g = torch.eye(2)
        >>> z = torch.tensor([[1., 0.]])
        >>> c = torch.tensor([0])
        >>> round(float(group_contrastive_loss(z, z, g, c, c, 1.0)), 4)
        0.3133
    """
    return 0.5 * (group_contrastive_term(pred_a, groups, targets_b,
                                         temperature)
                  + group_contrastive_term(pred_b, groups, targets_a,
                                           temperature))


def multi_view_group_contrastive_loss(preds: Sequence[torch.Tensor],
                                      groups: torch.Tensor,
                                      targets_a: torch.Tensor,
                                      targets_b: torch.Tensor,
                                      temperature: float = 0.1
                                      ) -> torch.Tensor:
    """Group-contrastive loss of two global views and any local crops.

    The mean over views of each view's term: view a predicts c^b, view b
    predicts c^a, and every local crop predicts both (the mean of its two
    terms)::

        L = [CE(z^a, c^b) + CE(z^b, c^a)
             + sum_l 0.5 (CE(z^l, c^a) + CE(z^l, c^b))] / (2 + n_local)

    With two views this is :func:`group_contrastive_loss`.

    Args:
        preds (Sequence[Tensor]): online predictions ``[z^a, z^b, z^l...]``,
            each (N, D).
        groups (Tensor): (K, D) unit group features.
        targets_a (Tensor): (N,) long groups c^a of global view a.
        targets_b (Tensor): (N,) long groups c^b of global view b.
        temperature (float): tau. Defaults to 0.1.

    Returns:
        Tensor: scalar loss.

    Examples:
        >>> g = torch.eye(2)
        >>> z = torch.tensor([[1., 0.]])
        >>> c0, c1 = torch.tensor([0]), torch.tensor([1])
        >>> # a -> c^b: log(1 + e) = 1.3133, b -> c^a: log(1 + 1/e) = 0.3133,
        >>> # the local crop: 0.5 (0.3133 + 1.3133); the mean of the three
        >>> round(float(multi_view_group_contrastive_loss(
        ...     [z, z, z], g, c0, c1, 1.0)), 4)
        0.8133
    """
    if len(preds) < 2:
        raise ValueError(f'need the two global views, got {len(preds)} '
                         'prediction tensors')
    loss = group_contrastive_loss(preds[0], preds[1], groups, targets_a,
                                  targets_b, temperature)
    if len(preds) == 2:
        return loss
    local = sum(group_contrastive_term(z, groups, t, temperature)
                for z in preds[2:] for t in (targets_a, targets_b)) / 2
    # mean over the 2 + n_local views
    return (2 * loss + local) / len(preds)


def instance_contrastive_loss(query: torch.Tensor, keys: torch.Tensor,
                              temperature: float = 0.1,
                              positives: Optional[torch.Tensor] = None
                              ) -> torch.Tensor:
    """InfoNCE of each query against all keys (the other views' features).

    Args:
        query (Tensor): (N, D) online predictions (normalized here).
        keys (Tensor): (M, D) momentum features of the other view, M >= N,
            possibly gathered from all ranks (normalized here, no gradient
            expected).
        temperature (float): tau. Defaults to 0.1.
        positives (Tensor, optional): (N,) long index of each query's key;
            defaults to ``arange(N)``.

    Returns:
        Tensor: scalar loss.
    """
    _check_temperature(temperature)
    if positives is None:
        positives = torch.arange(query.shape[0], device=query.device)
    # logits: NxM
    logits = F.normalize(query, dim=1) @ F.normalize(keys, dim=1).t()
    return F.cross_entropy(logits / temperature, positives)
