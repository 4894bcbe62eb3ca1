"""Shared behaviour of cld_mm algorithms: evaluation features for kNN."""
from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.structures import DataSample

EVAL_LEVELS = ('backbone', 'neck')


class EvalFeatureMixin:
    """Adds a ``predict`` mode returning L2-normalized evaluation features.

    Used by the val loop's :class:`cld_mm.evaluation.KNNAccuracy`: each output
    data sample carries ``eval_feat`` (D,), from the level ``eval_level``:
    ``'backbone'`` (global average pool of the last stage) or ``'neck'`` (the
    instance projection).
    """

    eval_level: str = 'neck'

    def _check_eval_level(self, level: str) -> str:
        if level not in EVAL_LEVELS:
            raise ValueError(f'eval_level must be one of {EVAL_LEVELS}, '
                             f'got {level!r}')
        return level

    def eval_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images -> (N, D) unit features at ``eval_level``."""
        x = self.backbone(inputs)
        if self.eval_level == 'neck':
            feat = self.neck(x)[0]
        else:
            feat = x[-1]
        if feat.dim() == 4:
            feat = feat.mean(dim=(2, 3))
        return F.normalize(feat.flatten(1), dim=1)

    def forward(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    @torch.no_grad()
    def predict(self, inputs, data_samples=None) -> List[DataSample]:
        if isinstance(inputs, list):  # a multi-view pipeline in the val set
            inputs = inputs[0]
        feats = self.eval_features(inputs)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(feats.shape[0])]
        for sample, feat in zip(data_samples, feats):
            sample.set_field(feat, 'eval_feat', field_type='data')
        return data_samples


class EvalSelfSupervisor(EvalFeatureMixin, BaseSelfSupervisor):
    """:class:`BaseSelfSupervisor` with the ``predict`` mode above."""
