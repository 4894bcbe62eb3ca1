"""The CLD part shared by NPID+CLD, MoCo+CLD and BYOL+CLD.

`Unsupervised Feature Learning by Cross-Level Instance-Group Discrimination
<https://arxiv.org/abs/2008.03813>`_ (Wang, Liu, Yu, CVPR 2021).

An algorithm adds CLD with one constructor argument,
``cld=dict(group_neck=..., num_clusters=..., temperature=..., weight=...)``,
builds it with :func:`build_cld` and calls ``self.cld(group_a, group_b)``
with the group features of two views of the same images.
"""
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import broadcast, get_world_size
from mmpretrain.registry import MODELS

from ..losses.cross_level import cross_level_loss_with_stats
from ..utils.dist import global_cross_level_loss

# ``group_neck='neck'``: the group features are the instance neck's second
# output (a two-branch neck such as TwoBranchMLPNeck)
FROM_NECK = 'neck'


class CrossLevelDiscrimination(nn.Module):
    """The group branch and the cross-level loss of CLD.

    Args:
        group_neck (dict | str): config of the group branch on the backbone
            outputs (e.g. ``LinearNeck`` or ``NormLinearNeck`` 512->128), or
            ``'neck'`` to read the group features from the instance neck's
            second output (``TwoBranchMLPNeck``). Its output is L2-normalized.
        num_clusters (int): K of the batch k-means.
        temperature (float): T_G. Defaults to 0.2.
        weight (float): lambda; ``loss_cld`` is already multiplied by it.
            Defaults to 1.0.
        num_iters (int): k-means iterations. Defaults to 5.
        spherical (bool): spherical k-means. Defaults to False.
        init (str): k-means init, ``'first'`` (the authors'), ``'random'`` or
            ``'kmeans++'``. Defaults to ``'first'``.
        global_clustering (bool): cluster the batch gathered from every rank
            instead of each rank's own batch. Defaults to False (the
            authors').
    """

    def __init__(self, group_neck: Union[dict, str], num_clusters: int,
                 temperature: float = 0.2, weight: float = 1.0,
                 num_iters: int = 5, spherical: bool = False,
                 init: str = 'first', global_clustering: bool = False) -> None:
        super().__init__()
        if int(num_clusters) != num_clusters or num_clusters < 1:
            raise ValueError(f'cld.num_clusters must be an integer >= 1, got '
                             f'{num_clusters}')
        if temperature <= 0:
            raise ValueError(f'Illegal cld.temperature {temperature}: must be '
                             '> 0')
        if weight < 0:
            raise ValueError(f'cld.weight must be >= 0, got {weight}')
        if init not in ('first', 'random', 'kmeans++'):
            raise ValueError(f"cld.init must be 'first', 'random' or "
                             f"'kmeans++', got {init!r}")
        self.from_neck = group_neck == FROM_NECK
        self.group_neck = None if self.from_neck else MODELS.build(group_neck)
        self.num_clusters = int(num_clusters)
        self.temperature = temperature
        self.weight = weight
        self.num_iters = num_iters
        self.spherical = spherical
        self.init = init
        self.global_clustering = global_clustering

    def group_features(self, backbone_out: tuple,
                       neck_out: Optional[tuple] = None) -> torch.Tensor:
        """(N, D) unit group features of one view.

        Args:
            backbone_out (tuple): the backbone outputs of the view.
            neck_out (tuple, optional): the instance neck outputs; needed
                when ``group_neck='neck'``.
        """
        if self.from_neck:
            if neck_out is None or len(neck_out) < 2:
                raise ValueError("cld.group_neck='neck' needs a neck with a "
                                 'group output (e.g. TwoBranchMLPNeck)')
            feats = neck_out[1]
        else:
            feats = self.group_neck(backbone_out)[0]
        if feats.dim() == 4:
            feats = feats.mean(dim=(2, 3))
        return F.normalize(feats.flatten(1), dim=1)

    def _generator(self, device: torch.device) -> Optional[torch.Generator]:
        """A generator seeded alike on every rank, for a random init."""
        if self.init == 'first' or not (self.global_clustering and
                                        get_world_size() > 1):
            return None
        seed = torch.randint(2**62, (1,), device=device)
        broadcast(seed, src=0)
        return torch.Generator().manual_seed(int(seed))

    def forward(self, group_a: torch.Tensor,
                group_b: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``loss_cld`` (lambda * L_CLD) and the diagnostics.

        Args:
            group_a (Tensor): (N, D) unit group features of view a.
            group_b (Tensor): (N, D) unit group features of view b.

        Returns:
            dict: ``loss_cld``, ``cld_group_acc`` (percent, view a against
            view b's groups), ``cld_num_groups`` (non-empty clusters).
        """
        options = dict(spherical=self.spherical, init=self.init,
                       generator=self._generator(group_a.device))
        fn = (global_cross_level_loss if self.global_clustering else
              cross_level_loss_with_stats)
        loss, stats = fn(group_a, group_b, self.num_clusters,
                         self.temperature, self.num_iters, **options)
        return dict(loss_cld=self.weight * loss,
                    cld_group_acc=stats['group_acc'],
                    cld_num_groups=stats['num_groups'])


def build_cld(cld: Optional[dict], neck: nn.Module,
              algorithm: str) -> CrossLevelDiscrimination:
    """Build the CLD part from an algorithm's ``cld`` argument.

    Raises:
        ValueError: ``cld`` or its ``group_neck`` is missing, or
            ``group_neck='neck'`` with a single-output neck.
    """
    if not isinstance(cld, dict):
        raise ValueError(
            f'{algorithm} needs `cld=dict(group_neck=..., num_clusters=..., '
            f'temperature=..., weight=...)`, got {cld!r}')
    if cld.get('group_neck') is None:
        raise ValueError(
            f'{algorithm}: the group branch is missing from the config: set '
            "model.cld.group_neck (e.g. dict(type='NormLinearNeck', "
            "in_channels=512, out_channels=128)) or 'neck' with a two-branch "
            'neck (TwoBranchMLPNeck)')
    if cld['group_neck'] == FROM_NECK and \
            getattr(neck, 'num_branches', 1) < 2:
        raise ValueError(
            f"{algorithm}: cld.group_neck='neck' needs a two-branch neck "
            f'(TwoBranchMLPNeck), got {type(neck).__name__}')
    return CrossLevelDiscrimination(**cld)
