"""Tiny model configs for the whole-step parity tests, and accessors.

Every parity test builds its model through these helpers, so a change of
config layout (where the group branch and the CLD options live) changes this
file only, never the tests. The backbone is a real mmpretrain
``ResNet_CIFAR`` shrunk to two stages of 8 and 16 channels (8x8 px inputs);
every model is built in float64.
"""
import copy
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

# (N, 3, IMG, IMG) inputs; backbone output channels C
IMG = 8
C = 16

BACKBONE = dict(type='ResNet_CIFAR', depth=18, num_stages=2, strides=(1, 2),
                dilations=(1, 1), out_indices=(1, ), stem_channels=8,
                base_channels=8, norm_cfg=dict(type='BN'),
                zero_init_residual=False)


def linear_neck(out_channels: int) -> dict:
    """Pool + Linear(C, out) with a bias (the CIFAR heads)."""
    return dict(type='LinearNeck', in_channels=C, out_channels=out_channels,
                gap_dim=2, norm_cfg=None)


def norm_linear_neck(out_channels: int) -> dict:
    """Pool + the normalized linear layer (``--normlinear``)."""
    return dict(type='NormLinearNeck', in_channels=C,
                out_channels=out_channels)


def two_branch_neck(hidden: int, out_channels: int,
                    group_channels: int) -> dict:
    """Shared Linear + ReLU, normalized instance and group layers (NormMLP)."""
    return dict(type='TwoBranchMLPNeck', in_channels=C, hid_channels=hidden,
                out_channels=out_channels, group_channels=group_channels,
                normalized=True)


def npid(bank_size: int, feat_dim: int, temperature: float,
         bank_momentum: float = 0.5, nce_k: int = 0) -> dict:
    return dict(type='NPID', backbone=copy.deepcopy(BACKBONE),
                neck=linear_neck(feat_dim), bank_size=bank_size,
                feat_dim=feat_dim, temperature=temperature,
                bank_momentum=bank_momentum, nce_k=nce_k)


def with_cld(model: dict, algorithm: str, group_neck, num_clusters: int,
             temperature: float, weight: float, num_iters: int = 5) -> dict:
    """Add the CLD part (group branch + cross-level options) to ``model``.

    ``group_neck`` is a neck config, or ``'neck'`` for the instance neck's
    second output.
    """
    model = dict(model, type=algorithm)
    model['group_neck'] = group_neck
    model['cld_head'] = dict(type='CLDHead', num_clusters=num_clusters,
                             temperature=temperature, loss_weight=weight,
                             num_iters=num_iters)
    return model


def moco(neck: dict, queue_len: int, feat_dim: int, momentum: float,
         temperature: float, algorithm: str = 'EvalMoCo') -> dict:
    return dict(type=algorithm, backbone=copy.deepcopy(BACKBONE), neck=neck,
                queue_len=queue_len, feat_dim=feat_dim, momentum=momentum,
                head=dict(type='ContrastiveHead',
                          loss=dict(type='CrossEntropyLoss'),
                          temperature=temperature))


def byol(hidden: int, out_channels: int, base_momentum: float,
         algorithm: str = 'EvalBYOL') -> dict:
    """BYOL with the CIFAR MLPs (Linear + BN + ReLU + Linear, plain BN)."""
    def mlp(in_channels, with_avg_pool):
        return dict(type='NonLinearNeck', in_channels=in_channels,
                    hid_channels=hidden, out_channels=out_channels,
                    num_layers=2, with_bias=True, with_last_bn=False,
                    with_avg_pool=with_avg_pool, norm_cfg=dict(type='BN1d'))

    return dict(type=algorithm, backbone=copy.deepcopy(BACKBONE),
                neck=mlp(C, True), base_momentum=base_momentum,
                head=dict(type='LatentPredictHead',
                          loss=dict(type='CosineSimilarityLoss'),
                          predictor=mlp(out_channels, False)))


def build(cfg: dict, seed: int = 0) -> nn.Module:
    """Build ``cfg`` with seeded weights, in float64 and train mode."""
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return model.double().train()


def group_branch(model: nn.Module) -> Optional[nn.Module]:
    """The group neck module, or None when the group features are the
    instance neck's second output."""
    return model.group_neck
