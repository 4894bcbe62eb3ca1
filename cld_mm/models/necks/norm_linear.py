"""Normalized projection heads of CLD and the two-branch (instance, group) MLP.

CLD (`Wang et al., 2021 <https://arxiv.org/abs/2008.03813>`_, "Normalized
Projection Heads"): ``out_t = <W_t, f> / (|W_t| |f|)``, a layer of cosine
similarities with no bias, its weights initialised uniform(-1, 1) and then
renormalized per output.

Every neck here takes the backbone's output tuple (uses its last tensor) or a
tensor, global-average-pools a 4-D (N, C, H, W) input to (N, C), and returns
a tuple, as mmpretrain necks do.
"""
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

Inputs = Union[torch.Tensor, Sequence[torch.Tensor]]


def pooled(inputs: Inputs) -> torch.Tensor:
    """The last backbone output as (N, C): global average pool if 4-D."""
    x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
    if x.dim() == 4:
        x = x.mean(dim=(2, 3))
    if x.dim() != 2:
        raise ValueError(f'neck expects (N, C) or (N, C, H, W) features, got '
                         f'{tuple(x.shape)}')
    return x


class NormLinear(nn.Module):
    """``normalize(x) @ normalize(W, dim=0)``: cosine of x with every column.

    Args:
        in_channels (int): input features C.
        out_channels (int): outputs (columns of W).

    Shapes:
        (N, in_channels) -> (N, out_channels), every value in [-1, 1].
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f'channels must be >= 1, got {in_channels}, '
                             f'{out_channels}')
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W ~ uniform(-1, 1), then every column (output) scaled to norm 1."""
        with torch.no_grad():
            self.weight.uniform_(-1, 1)
            self.weight.copy_(F.normalize(self.weight, dim=0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=0)


@MODELS.register_module()
class NormLinearNeck(BaseModule):
    """Pool, then one normalized linear layer (no bias).

    Args:
        in_channels (int): backbone channels (512 for ResNet-18).
        out_channels (int): projection size. Defaults to 128.
        init_cfg (dict, optional): Defaults to None (the uniform init above).
    """

    def __init__(self, in_channels: int, out_channels: int = 128,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.fc = NormLinear(in_channels, out_channels)

    def forward(self, inputs: Inputs) -> Tuple[torch.Tensor]:
        return (self.fc(pooled(inputs)),)


def _hidden(in_channels: int, hid_channels: int, with_bias: bool):
    return nn.Sequential(nn.Linear(in_channels, hid_channels, bias=with_bias),
                         nn.ReLU(inplace=True))


@MODELS.register_module()
class NormMLPNeck(BaseModule):
    """Pool, Linear + ReLU, then a normalized last layer (the NormMLP head).

    Args:
        in_channels (int): backbone channels (2048 for ResNet-50).
        hid_channels (int): hidden size. Defaults to 2048.
        out_channels (int): projection size. Defaults to 128.
        with_bias (bool): bias in the hidden layer. Defaults to True.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self, in_channels: int, hid_channels: int = 2048,
                 out_channels: int = 128, with_bias: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.mlp = _hidden(in_channels, hid_channels, with_bias)
        self.fc = NormLinear(hid_channels, out_channels)

    def forward(self, inputs: Inputs) -> Tuple[torch.Tensor]:
        return (self.fc(self.mlp(pooled(inputs))),)


@MODELS.register_module()
class TwoBranchMLPNeck(BaseModule):
    """A shared Linear + ReLU, then an instance head and a group head.

    CLD's MLP variant for MoCo v2: ``Linear(2048, 2048) + ReLU`` shared by
    both branches, then one last layer per branch (normalized with
    ``normalized=True``, the NormMLP variant; plain linear layers with a bias
    otherwise, the MLP variant). Returns ``(instance, group)``; a model
    reading ``neck(x)[0]`` (MoCo's key encoder, kNN) gets the instance branch.

    Args:
        in_channels (int): backbone channels.
        hid_channels (int): shared hidden size. Defaults to 2048.
        out_channels (int): instance branch size. Defaults to 128.
        group_channels (int): group branch size. Defaults to 128.
        normalized (bool): normalized last layers. Defaults to True.
        init_cfg (dict, optional): Defaults to None.
    """

    num_branches = 2

    def __init__(self, in_channels: int, hid_channels: int = 2048,
                 out_channels: int = 128, group_channels: int = 128,
                 normalized: bool = True, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.mlp = _hidden(in_channels, hid_channels, True)
        last = NormLinear if normalized else nn.Linear
        self.instance_fc = last(hid_channels, out_channels)
        self.group_fc = last(hid_channels, group_channels)

    def forward(self, inputs: Inputs) -> Tuple[torch.Tensor, torch.Tensor]:
        hidden = self.mlp(pooled(inputs))
        return self.instance_fc(hidden), self.group_fc(hidden)
