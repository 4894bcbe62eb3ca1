"""BYOL + CLD: the group branch on the online backbone."""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BYOL
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .base import EvalFeatureMixin
from .cld import build_cld


@MODELS.register_module()
class BYOLCLD(EvalFeatureMixin, BYOL):
    """BYOL with CLD (`Wang et al., 2021 <https://arxiv.org/abs/2008.03813>`_).

    BYOL's loss (``loss_instance``: ``2 (l(v1, v2) + l(v2, v1))``, as
    mmpretrain) plus CLD between the group features of the two views,
    computed by a group branch on the online backbone (``loss_cld``,
    ``cld_group_acc``, ``cld_num_groups``).

    Args:
        cld (dict): the CLD part (see :class:`CrossLevelDiscrimination`);
            ``group_neck`` is required.
        eval_level (str): kNN feature level. Defaults to ``'backbone'``
            (BYOL's projection is not a unit embedding space).
        *args, **kwargs: the arguments of mmpretrain's ``BYOL``.
    """

    def __init__(self, *args, cld: Optional[dict] = None,
                 eval_level: str = 'backbone', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cld = build_cld(cld, self.neck, 'BYOLCLD')
        self.eval_level = self._check_eval_level(eval_level)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """BYOL's symmetric loss, then CLD on the online backbone outputs."""
        if not isinstance(inputs, list) or len(inputs) < 2:
            raise ValueError('BYOLCLD needs two views per image')
        img_v1, img_v2 = inputs[:2]
        x1, x2 = self.backbone(img_v1), self.backbone(img_v2)
        neck1, neck2 = self.neck(x1), self.neck(x2)
        with torch.no_grad():
            self.target_net.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            target_v1 = self.target_net(img_v1)[0]
            target_v2 = self.target_net(img_v2)[0]
        loss = 2. * (self.head.loss(neck1[0], target_v2) +
                     self.head.loss(neck2[0], target_v1))
        losses = dict(loss_instance=loss)
        losses.update(self.cld(self.cld.group_features(x1, neck1),
                               self.cld.group_features(x2, neck2)))
        return losses


@MODELS.register_module()
class EvalBYOL(EvalFeatureMixin, BYOL):
    """mmpretrain's BYOL with the kNN ``predict`` mode: the baseline of
    :class:`BYOLCLD`. Same arguments as ``BYOL`` plus ``eval_level``
    (Defaults to ``'backbone'``)."""

    def __init__(self, *args, eval_level: str = 'backbone', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eval_level = self._check_eval_level(eval_level)
