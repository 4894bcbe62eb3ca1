"""BYOL + CLD: the group branch on the online backbone."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BYOL
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .base import EvalFeatureMixin
from .cld import CLDMixin


@MODELS.register_module()
class BYOLCLD(CLDMixin, EvalFeatureMixin, BYOL):
    """BYOL with CLD (`Wang et al., 2021 <https://arxiv.org/abs/2008.03813>`_).

    BYOL's loss (``loss_instance``: ``2 (l(v1, v2) + l(v2, v1))``, as
    mmpretrain) plus CLD between the group features of the two views,
    computed by a group branch on the online backbone (``loss_cld``,
    ``cld_group_acc``, ``cld_num_groups``).

    Args:
        group_neck (dict | str): the group branch on the online backbone.
        cld_head (dict): the :class:`cld_mm.models.heads.CLDHead` config.
        eval_level (str): kNN feature level. Defaults to ``'backbone'``
            (BYOL's projection is not a unit embedding space).
        *args, **kwargs: the arguments of mmpretrain's ``BYOL``.
    """

    def __init__(self, *args, group_neck: Union[dict, str, None] = None,
                 cld_head: Optional[dict] = None, cld: Optional[dict] = None,
                 eval_level: str = 'backbone', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_cld(group_neck, cld_head, cld)
        self.eval_level = self._check_eval_level(eval_level)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """BYOL's symmetric loss, then CLD on the online backbone outputs."""
        if not isinstance(inputs, list) or len(inputs) < 2:
            raise ValueError('BYOLCLD needs two views per image')
        img_v1, img_v2 = inputs[:2]
        outs = [(x, self.neck(x)) for x in map(self.backbone, inputs[:2])]
        with torch.no_grad():
            self.target_net.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            target_v1 = self.target_net(img_v1)[0]
            target_v2 = self.target_net(img_v2)[0]
        loss = 2. * (self.head.loss(outs[0][1][0], target_v2) +
                     self.head.loss(outs[1][1][0], target_v1))
        return dict(loss_instance=loss, **self.cld_loss(outs))


@MODELS.register_module()
class EvalBYOL(EvalFeatureMixin, BYOL):
    """mmpretrain's BYOL with the kNN ``predict`` mode: the baseline of
    :class:`BYOLCLD`. Same arguments as ``BYOL`` plus ``eval_level``
    (Defaults to ``'backbone'``)."""

    def __init__(self, *args, eval_level: str = 'backbone', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eval_level = self._check_eval_level(eval_level)
