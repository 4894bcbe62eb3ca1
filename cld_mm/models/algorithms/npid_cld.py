"""NPID + CLD: the memory-bank instance loss plus cross-level discrimination."""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .cld import CLDMixin
from .npid import NPID


@MODELS.register_module()
class NPIDCLD(CLDMixin, NPID):
    """NPID with CLD (`Wang et al., 2021 <https://arxiv.org/abs/2008.03813>`_).

    NPID's instance loss of both views is logged as ``loss_instance``; the
    two views' group features go to ``cld_head`` (``loss_cld``, already
    times lambda, ``cld_group_acc``, ``cld_num_groups``).

    Args:
        group_neck (dict | str): the group branch on the backbone outputs
            (e.g. ``LinearNeck`` 512 -> 128), or ``'neck'``.
        cld_head (dict): the :class:`cld_mm.models.heads.CLDHead` config.
        *args, **kwargs: the arguments of :class:`NPID`.
    """

    instance_loss_key = 'loss_instance'

    def __init__(self, *args, group_neck: Union[dict, str, None] = None,
                 cld_head: Optional[dict] = None, cld: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_cld(group_neck, cld_head, cld)

    def extra_losses(self, encoded: List[Tuple[tuple, tuple]],
                     data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """CLD between the group features of the two views."""
        return self.cld_loss(encoded)
