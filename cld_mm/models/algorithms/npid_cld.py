"""NPID + CLD: the memory-bank instance loss plus cross-level discrimination."""
from typing import Dict, List, Optional, Tuple

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .cld import build_cld
from .npid import NPID


@MODELS.register_module()
class NPIDCLD(NPID):
    """NPID with CLD (`Wang et al., 2021 <https://arxiv.org/abs/2008.03813>`_).

    Two views; the backbone runs once per view. The instance loss is NPID's
    (the mean of both views', both views update the bank), logged as
    ``loss_instance``; the group branch of each view feeds
    :class:`CrossLevelDiscrimination`, logged as ``loss_cld`` (already times
    lambda), ``cld_group_acc`` and ``cld_num_groups``.

    Args:
        cld (dict): the CLD part: ``group_neck`` (required), ``num_clusters``,
            ``temperature``, ``weight`` and the k-means options of
            :class:`CrossLevelDiscrimination`.
        *args, **kwargs: the arguments of :class:`NPID`.
    """

    instance_loss_key = 'loss_instance'

    def __init__(self, *args, cld: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cld = build_cld(cld, self.neck, 'NPIDCLD')

    def extra_losses(self, encoded: List[Tuple[tuple, tuple]],
                     data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """CLD between the group features of the two views."""
        group_a, group_b = (self.cld.group_features(x, neck_out)
                            for x, neck_out in encoded)
        return self.cld(group_a, group_b)
