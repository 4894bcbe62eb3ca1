"""MoCo v1/v2 + CLD with three crops (query, key, second query)."""
import math
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup import MoCo
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .base import EvalFeatureMixin
from .cld import CLDMixin

QUEUE_INITS = ('normal', 'uniform')


def uniform_queue(feat_dim: int, queue_len: int) -> torch.Tensor:
    """The authors' CIFAR MoCo memory (``MemoryMoCo``): entries drawn from
    U(-1/sqrt(d/3), 1/sqrt(d/3)), not normalised; (feat_dim, queue_len)."""
    stdv = 1.0 / math.sqrt(feat_dim / 3)
    return torch.rand(feat_dim, queue_len).mul_(2 * stdv).sub_(stdv)


class QueueInitMixin:
    """``queue_init='normal'``: mmpretrain's unit Gaussian columns (MoCo's
    ImageNet code); ``'uniform'``: the authors' CIFAR queue."""

    def _init_queue(self, queue_init: str) -> None:
        if queue_init not in QUEUE_INITS:
            raise ValueError(f'queue_init={queue_init!r}: use one of '
                             f'{QUEUE_INITS}')
        self.queue_init = queue_init
        if queue_init == 'uniform':
            self.queue.copy_(uniform_queue(*self.queue.shape))


@MODELS.register_module()
class MoCoCLD(CLDMixin, QueueInitMixin, EvalFeatureMixin, MoCo):
    """MoCo with CLD (`Wang et al., 2021 <https://arxiv.org/abs/2008.03813>`_).

    Three crops per image, ``inputs = [q, k, q2]``. The instance loss is
    ``1/2 [InfoNCE(q, k) + InfoNCE(q2, k)]`` against the queue (the head's
    temperature), logged as ``loss_instance``; the queue then receives k.
    CLD runs between the group features of q and q2 (``loss_cld``,
    ``cld_group_acc``, ``cld_num_groups``). v1: linear heads; v2: MLP heads
    (``TwoBranchMLPNeck`` with ``group_neck='neck'`` shares the hidden layer
    between the branches, as the authors' MoCo v2 scripts).

    Args:
        group_neck (dict | str): the group branch, or ``'neck'``.
        cld_head (dict): the :class:`cld_mm.models.heads.CLDHead` config.
        eval_level (str): kNN feature level. Defaults to ``'neck'``.
        queue_init (str): ``'normal'`` (mmpretrain's, the default) or
            ``'uniform'`` (the authors' CIFAR queue).
        *args, **kwargs: the arguments of mmpretrain's ``MoCo``
            (``queue_len``, ``feat_dim``, ``momentum`` in mmengine's
            convention: the weight of the new parameters, 0.001 = MoCo's
            0.999).
    """

    def __init__(self, *args, group_neck: Union[dict, str, None] = None,
                 cld_head: Optional[dict] = None, cld: Optional[dict] = None,
                 eval_level: str = 'neck', queue_init: str = 'normal',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_queue(queue_init)
        self._init_cld(group_neck, cld_head, cld)
        self.eval_level = self._check_eval_level(eval_level)

    def _infonce(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        # positive logits: Nx1
        l_pos = torch.einsum('nc,nc->n', [q, k]).unsqueeze(-1)
        # negative logits: NxK
        l_neg = torch.einsum('nc,ck->nk', [q, self.queue.clone().detach()])
        return self.head.loss(l_pos, l_neg)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Instance loss of q and q2 against k; CLD between q and q2."""
        if not isinstance(inputs, list) or len(inputs) < 3:
            raise ValueError('MoCoCLD needs three crops per image (q, k, q2): '
                             'MultiView num_views=3')
        im_q, im_k, im_q2 = inputs[:3]
        outs = [(x, self.neck(x)) for x in map(self.backbone, (im_q, im_q2))]
        q, q2 = (F.normalize(n[0], dim=1) for _, n in outs)  # NxC
        with torch.no_grad():
            self.encoder_k.update_parameters(
                torch.nn.Sequential(self.backbone, self.neck))
            im_k, idx_unshuffle = batch_shuffle_ddp(im_k)
            k = F.normalize(self.encoder_k(im_k)[0], dim=1)  # keys: NxC
            k = batch_unshuffle_ddp(k, idx_unshuffle)
        loss = 0.5 * (self._infonce(q, k) + self._infonce(q2, k))
        self._dequeue_and_enqueue(k)
        return dict(loss_instance=loss, **self.cld_loss(outs))


@MODELS.register_module()
class EvalMoCo(QueueInitMixin, EvalFeatureMixin, MoCo):
    """mmpretrain's MoCo (two crops) with the kNN ``predict`` mode: the
    baseline of :class:`MoCoCLD`. Same arguments as ``MoCo`` plus
    ``eval_level`` (Defaults to ``'neck'``) and ``queue_init`` (as
    :class:`MoCoCLD`)."""

    def __init__(self, *args, eval_level: str = 'neck',
                 queue_init: str = 'normal', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_queue(queue_init)
        self.eval_level = self._check_eval_level(eval_level)
