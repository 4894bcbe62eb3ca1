"""Tiny SMoG models for value tests: a few hundred weights, float64-ready.

One place builds them, so a change of SMoG's construction keys touches this
helper only, never the tests that compare values against it.
"""
from typing import List

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

import cld_mm  # noqa: F401

# the sizes and hyper-parameters the value tests read back
FEAT_DIM = 6
NUM_GROUPS = 5
CACHE_SIZE = 12  # batch 8: the FIFO wraps around in the second step
TEMPERATURE = 0.2
INSTANCE_TEMPERATURE = 0.3
TARGET_MOMENTUM = 0.25  # mmengine EMA: weight of the online weights
BETA_START, BETA_END = 0.9, 0.6  # far from 1 so that the groups move
GLOBAL_SIZE, LOCAL_SIZE = 8, 4


@MODELS.register_module(force=True)
class TinySMoGConvNet(BaseModule):
    """Conv(3->4, s2)-BN-ReLU-Conv(4->8, s2)-BN-ReLU.

    Returns a 1-tuple (N, 8, H/4, W/4), as mmpretrain backbones do.
    """

    def __init__(self, width: int = 4, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.layers = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width), nn.ReLU())

    def forward(self, x: torch.Tensor):
        return (self.layers(x), )


def smog_cfg(total_iters: int = 3, instance_weight: float = 0.0,
             fixed_beta: float = None, **overrides) -> dict:
    """The model config of a tiny SMoG (TinySMoGConvNet, 10-wide MLPs).

    ``fixed_beta`` switches to ``beta_schedule='fixed'`` with that beta;
    otherwise beta goes linearly from BETA_START to BETA_END.
    """
    cfg = dict(
        type='SMoG',
        num_groups=NUM_GROUPS,
        feat_dim=FEAT_DIM,
        beta_schedule='linear',
        beta_start=BETA_START,
        beta_end=BETA_END,
        total_iters=total_iters,
        target_momentum=TARGET_MOMENTUM,
        cache_size=CACHE_SIZE,
        kmeans_iters=3,
        backbone=dict(type='TinySMoGConvNet'),
        neck=dict(type='NonLinearNeck', in_channels=8, hid_channels=10,
                  out_channels=FEAT_DIM, with_avg_pool=True,
                  norm_cfg=dict(type='BN1d')),
        predictor=dict(type='NonLinearNeck', in_channels=FEAT_DIM,
                       hid_channels=10, out_channels=FEAT_DIM,
                       with_avg_pool=False, with_last_bn=False,
                       with_last_bias=True, norm_cfg=dict(type='BN1d')),
        head=dict(type='SMoGHead', temperature=TEMPERATURE,
                  instance_weight=instance_weight,
                  instance_temperature=INSTANCE_TEMPERATURE))
    if fixed_beta is not None:
        del cfg['beta_start'], cfg['beta_end']
        cfg.update(beta_schedule='fixed', beta=fixed_beta)
    cfg.update(overrides)
    return cfg


def build_tiny_smog(seed: int = 0, dtype: torch.dtype = torch.float64,
                    **kwargs) -> nn.Module:
    """A seeded tiny SMoG in ``dtype``, in train mode."""
    torch.manual_seed(seed)
    model = MODELS.build(smog_cfg(**kwargs)).to(dtype)
    return model.train()


def tiny_views(batch: int = 8, n_local: int = 0, seed: int = 1,
               dtype: torch.dtype = torch.float64) -> List[torch.Tensor]:
    """Two global views (8 px) and ``n_local`` local crops (4 px)."""
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch, 3, GLOBAL_SIZE, GLOBAL_SIZE, generator=gen)
             for _ in range(2)]
    views += [torch.randn(batch, 3, LOCAL_SIZE, LOCAL_SIZE, generator=gen)
              for _ in range(n_local)]
    return [v.to(dtype) for v in views]


# ------------------------------------------------------------------ Runner
# The shipped CIFAR-10 config, shrunk for 2-core Runner tests: only the data
# (16-px augmentation-free views), the widths of the MLPs and the sizes of
# the group table and cache change, never the structure or the loss.
RUNNER_CONFIG = 'configs/smog/smog_resnet18_1xb512-coslr-200e_cifar10.py'
RUNNER_SMALL = dict(num_groups=4, cache_size=16, kmeans_iters=3)


def shrink_runner_cfg(cfg):
    """Narrow MLPs and 16-px views on a loaded SMoG config; seed 0."""
    cfg.model.neck.hid_channels = 64
    cfg.model.predictor.hid_channels = 64
    view = [dict(type='Resize', scale=16)]
    pipe = cfg.train_dataloader.dataset.pipeline
    pipe[1] = dict(type='MultiView', num_views=[1, 1],
                   transforms=[view, view + [dict(type='RandomFlip',
                                                  prob=1.0)]])
    cfg.randomness = dict(seed=0)
    return cfg
