"""What NPID+CLD, MoCo+CLD and BYOL+CLD share: a group branch and a CLD head.

`Unsupervised Feature Learning by Cross-Level Instance-Group Discrimination
<https://arxiv.org/abs/2008.03813>`_ (Wang, Liu, Yu, CVPR 2021).

A CLD algorithm takes the group branch and the head as mmpretrain
algorithms take ``neck=`` and ``head=``::

    model = dict(
        type='NPIDCLD', backbone=..., neck=...,            # instance branch
        group_neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
                        gap_dim=2, norm_cfg=None),         # group branch
        cld_head=dict(type='CLDHead', num_clusters=128, temperature=0.2,
                      loss_weight=1.0))                    # L_CLD

``group_neck='neck'`` reads the group features from the instance neck's
second output (``TwoBranchMLPNeck``, MoCo v2 + CLD).
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from ..utils.checkpoint_convert import upgrade_state_dict

# ``group_neck='neck'``: the group features are the instance neck's second
# output (a two-branch neck such as TwoBranchMLPNeck)
FROM_NECK = 'neck'


def _legacy_cld_error(algorithm: str, cld) -> ValueError:
    """The error for the pre-split ``cld=dict(...)`` argument, with the
    equivalent new keys spelled out."""
    old = dict(cld) if isinstance(cld, dict) else {}
    group_neck = repr(old.pop('group_neck')) if 'group_neck' in old else '...'
    if 'weight' in old:
        old['loss_weight'] = old.pop('weight')
    head = ', '.join(f'{k}={v!r}' for k, v in old.items()) or '...'
    return ValueError(
        f'{algorithm}: `cld=dict(...)` is no longer an argument; the group '
        'branch and the CLD loss are configured as `group_neck=` and '
        "`cld_head=` (weight -> loss_weight), here: group_neck="
        f"{group_neck}, cld_head=dict(type='CLDHead', {head})")


class CLDMixin:
    """Builds ``group_neck`` / ``cld_head`` and computes the CLD terms.

    Mixed into an mmpretrain self-supervisor (after ``self.neck`` exists).
    Checkpoints of the earlier layout (``cld.group_neck.*``) load through
    :func:`cld_mm.models.utils.checkpoint_convert.upgrade_state_dict`.
    """

    group_neck: Optional[torch.nn.Module]
    cld_head: torch.nn.Module

    def _init_cld(self, group_neck: Union[dict, str, None],
                  cld_head: Optional[dict], cld: Optional[dict]) -> None:
        name = type(self).__name__
        if cld is not None:
            raise _legacy_cld_error(name, cld)
        if group_neck is None:
            raise ValueError(
                f'{name}: the group branch is missing from the config: set '
                "model.group_neck (e.g. dict(type='NormLinearNeck', "
                "in_channels=512, out_channels=128)) or 'neck' with a "
                'two-branch neck (TwoBranchMLPNeck)')
        if not isinstance(cld_head, dict):
            raise ValueError(
                f"{name} needs `cld_head=dict(type='CLDHead', num_clusters="
                f'..., temperature=..., loss_weight=...)`, got {cld_head!r}')
        self.group_from_neck = group_neck == FROM_NECK
        if self.group_from_neck and getattr(self.neck, 'num_branches', 1) < 2:
            raise ValueError(
                f"{name}: group_neck='neck' needs a two-branch neck "
                f'(TwoBranchMLPNeck), got {type(self.neck).__name__}')
        self.group_neck = (None if self.group_from_neck else
                           MODELS.build(group_neck))
        self.cld_head = MODELS.build(cld_head)
        self.register_load_state_dict_pre_hook(_upgrade_hook)

    def group_features(self, backbone_out: tuple,
                       neck_out: Optional[tuple] = None) -> torch.Tensor:
        """(N, D) unit group features of one view.

        Args:
            backbone_out (tuple): the backbone outputs of the view.
            neck_out (tuple, optional): the instance neck outputs; needed
                when ``group_neck='neck'``.
        """
        if self.group_from_neck:
            if neck_out is None or len(neck_out) < 2:
                raise ValueError("group_neck='neck' needs the instance "
                                 "neck's two outputs (TwoBranchMLPNeck)")
            feats = neck_out[1]
        else:
            feats = self.group_neck(backbone_out)[0]
        if feats.dim() == 4:
            feats = feats.mean(dim=(2, 3))
        return F.normalize(feats.flatten(1), dim=1)

    def cld_loss(self, views: Sequence[tuple]) -> Dict[str, torch.Tensor]:
        """``cld_head.loss`` between the first two views' group features.

        Args:
            views (Sequence[tuple]): ``(backbone outputs, neck outputs)`` of
                each view.
        """
        (xa, na), (xb, nb) = views[:2]
        return self.cld_head.loss(self.group_features(xa, na),
                                  self.group_features(xb, nb))

    def extract_group_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images -> (N, D) unit group features (evaluation)."""
        x = self.backbone(inputs)
        return self.group_features(
            x, self.neck(x) if self.group_from_neck else None)


def _upgrade_hook(module, state_dict, prefix, *args) -> None:
    """Rename the earlier layout's keys in place before a state dict loads."""
    own = {k: v for k, v in state_dict.items() if k.startswith(prefix)}
    new = upgrade_state_dict(own, prefix=prefix)
    if list(new) != list(own):
        for key in own:
            del state_dict[key]
        state_dict.update(new)
