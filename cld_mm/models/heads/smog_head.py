"""SMoG's head: predictions against the group table -> the group loss."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_rank
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..losses.group_contrastive import (
    instance_contrastive_loss,
    multi_view_group_contrastive_loss,
)


@MODELS.register_module()
class SMoGHead(BaseModule):
    """Group-contrastive loss of SMoG, with an optional instance term.

    `Pang et al., ECCV 2022 <https://arxiv.org/abs/2207.06167>`_. The online
    predictions of every view are contrasted against the K group features;
    the positive of a global view is the group the momentum encoder assigns
    to the other global view, a local crop takes both
    (:func:`~cld_mm.models.losses.group_contrastive.multi_view_group_contrastive_loss`).
    With ``instance_weight > 0`` an InfoNCE term of z^a against the momentum
    embeddings of view b of the whole (all-gathered) batch, and of z^b
    against those of view a, is added.

    The head holds options only. The group table is not its state: it is a
    buffer of the algorithm (:class:`~cld_mm.models.algorithms.SMoG`), which
    moves it every step and replaces it at each re-clustering, and it is
    passed to :meth:`loss` as an argument (docs/smog.md says why).

    Args:
        temperature (float): tau of the group-contrastive loss.
            Defaults to 0.1.
        instance_weight (float): weight of the instance term; 0 turns it
            off. Defaults to 0.0.
        instance_temperature (float): tau of the instance term.
            Defaults to 0.1.
        init_cfg (dict, optional): Defaults to None.

    Examples:
        >>> head = SMoGHead(temperature=1.0)
        >>> z = torch.tensor([[1., 0.]])
        >>> c = torch.tensor([0])
        >>> out = head.loss([z, z], torch.eye(2), [c, c])
        >>> round(float(out['loss_group']), 4)
        0.3133
    """

    def __init__(self, temperature: float = 0.1, instance_weight: float = 0.0,
                 instance_temperature: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0 or instance_temperature <= 0:
            raise ValueError('Illegal temperature: must be > 0, got '
                             f'{temperature} / {instance_temperature}')
        if instance_weight < 0:
            raise ValueError(f'instance_weight must be >= 0, got '
                             f'{instance_weight}')
        self.temperature = float(temperature)
        self.instance_weight = float(instance_weight)
        self.instance_temperature = float(instance_temperature)

    def loss(self, preds: Sequence[torch.Tensor], groups: torch.Tensor,
             targets: Sequence[torch.Tensor],
             keys: Optional[Sequence[torch.Tensor]] = None
             ) -> Dict[str, torch.Tensor]:
        """Losses and the group accuracy of one step.

        Args:
            preds (Sequence[Tensor]): online predictions ``[z^a, z^b,
                z^l...]`` (two global views, then local crops), each (N, D).
            groups (Tensor): (K, D) unit group table to contrast against
                (SMoG: the groups after this step's momentum update, with
                their graph).
            targets (Sequence[Tensor]): ``[c^a, c^b]``, (N,) long groups the
                momentum encoder assigns to the two global views.
            keys (Sequence[Tensor], optional): ``[e^a, e^b]``, (N, D) unit
                momentum embeddings of this rank's global views; needed when
                ``instance_weight > 0`` (gathered from all ranks here).

        Returns:
            dict: ``loss_group``, ``loss_instance`` (weighted; only when
            ``instance_weight > 0``) and the diagnostic ``group_acc`` (the
            share of z^a whose most similar group is c^b).
        """
        if len(preds) < 2 or len(targets) != 2:
            raise ValueError(f'SMoGHead needs two global views and their two '
                             f'targets, got {len(preds)} predictions and '
                             f'{len(targets)} targets')
        losses = dict(loss_group=multi_view_group_contrastive_loss(
            preds, groups, targets[0], targets[1], self.temperature))
        if self.instance_weight > 0:
            if keys is None or len(keys) != 2:
                raise ValueError('instance_weight > 0 needs keys=[e^a, e^b], '
                                 'the momentum embeddings of the two views')
            # keys: (world * N, D); this rank's rows start at rank * N
            gathered = [torch.cat(all_gather(k), dim=0) for k in keys]
            pos = torch.arange(keys[0].shape[0], device=keys[0].device) \
                + get_rank() * keys[0].shape[0]
            inst = 0.5 * (instance_contrastive_loss(
                preds[0], gathered[1], self.instance_temperature, pos)
                + instance_contrastive_loss(
                preds[1], gathered[0], self.instance_temperature, pos))
            losses['loss_instance'] = self.instance_weight * inst
        with torch.no_grad():  # diagnostic: no 'loss' in the key
            # logits: NxK
            logits = F.normalize(preds[0], dim=1) @ groups.t()
            losses['group_acc'] = (logits.argmax(1) == targets[1]).float(
            ).mean()
        return losses
