"""NPID: non-parametric instance discrimination with a memory bank."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, all_reduce, broadcast
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..losses.instance import nce_loss, nce_normaliser, nonparametric_softmax_loss
from ..utils.memory_bank import check_bank_indices, init_memory_bank, momentum_bank_rows
from .base import EvalSelfSupervisor


def sample_indices(data_samples: List[DataSample],
                   device: torch.device) -> torch.Tensor:
    """The dataset index (``sample_idx``) of every sample, as a (N,) tensor."""
    try:
        idx = [int(s.sample_idx) for s in data_samples]
    except AttributeError as exc:
        raise KeyError(
            'data samples carry no `sample_idx`: keep it in PackInputs '
            'meta_keys (the default) so the memory bank can be indexed') from exc
    return torch.tensor(idx, dtype=torch.long, device=device)


@MODELS.register_module()
class NPID(EvalSelfSupervisor):
    """NPID (`Wu et al., 2018 <https://arxiv.org/abs/1805.01978>`_).

    Each image's 128-d unit feature is discriminated against a memory bank
    holding one unit vector per training image, with a full non-parametric
    softmax (``nce_k=0``, the default, as the CLD authors run it) or NCE with
    ``nce_k`` uniform noise samples. Two views per image: the instance loss is
    the mean of both views' losses, both computed against the bank as it was
    before the step; then the bank rows are updated by view a and then view b
    with ``v <- normalize(m v + (1 - m) f)``. Under distributed training the
    features and indices of every rank are gathered first, so every rank's
    bank stays identical. It also starts identical: the first training step
    of a process broadcasts rank 0's bank. mmengine's Runner already
    broadcasts every buffer when it initialises the weights; the step's own
    broadcast covers the model trained without a Runner (a custom loop, DDP
    with ``broadcast_buffers=False``), where ranks seeded differently draw
    different random banks. A resumed bank is the same on every rank and
    stays unchanged.

    Args:
        backbone (dict): backbone config (``ResNet_CIFAR`` depth 18 for 32 px).
        neck (dict): projection config, e.g. ``LinearNeck`` to ``feat_dim``.
        bank_size (int): rows of the memory bank: the number of training
            images. Indices come from the dataset's ``sample_idx``.
        feat_dim (int): feature dimension. Defaults to 128.
        temperature (float): softmax temperature T. Defaults to 0.1.
        bank_momentum (float): weight m of the old bank row. Defaults to 0.5.
        nce_k (int): noise samples for NCE; 0 uses the full softmax.
            Defaults to 0.
        eval_level (str): feature used by kNN evaluation, ``'neck'`` (the
            normalized projection) or ``'backbone'``. Defaults to ``'neck'``.
        data_preprocessor (dict, optional): Defaults to None.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 bank_size: int,
                 feat_dim: int = 128,
                 temperature: float = 0.1,
                 bank_momentum: float = 0.5,
                 nce_k: int = 0,
                 eval_level: str = 'neck',
                 head: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if neck is None:
            raise ValueError('NPID needs a `neck` (the instance projection)')
        if int(bank_size) < 1:
            raise ValueError(f'bank_size must be >= 1, got {bank_size}')
        if temperature <= 0:
            raise ValueError(f'Illegal temperature {temperature}: must be > 0')
        if not 0.0 <= bank_momentum < 1.0:
            raise ValueError(f'bank_momentum must be in [0, 1), got '
                             f'{bank_momentum}')
        if nce_k < 0:
            raise ValueError(f'nce_k must be >= 0, got {nce_k}')
        super().__init__(
            backbone=backbone, neck=neck, head=head, pretrained=pretrained,
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.bank_size = int(bank_size)
        self.feat_dim = feat_dim
        self.temperature = temperature
        self.bank_momentum = bank_momentum
        self.nce_k = nce_k
        self.eval_level = self._check_eval_level(eval_level)
        self.register_buffer('memory_bank',
                             init_memory_bank(self.bank_size, feat_dim))
        # rank 0's bank is broadcast at the first step of each process
        self._bank_synced = False
        # NCE normalisation constant Z, estimated on the first step (-1: unset)
        self.register_buffer('nce_z', torch.tensor(-1.0))

    def check_bank_size(self, dataset_size: int) -> None:
        """Raise if the bank cannot hold one row per training image."""
        if self.bank_size < dataset_size:
            raise ValueError(
                f'memory bank has {self.bank_size} rows but the training set '
                f'has {dataset_size} images: set model.bank_size='
                f'{dataset_size}')

    def encode(self, img: torch.Tensor) -> Tuple[tuple, tuple]:
        """One backbone pass: (backbone outputs, neck outputs)."""
        x = self.backbone(img)
        return x, self.neck(x)

    def project(self, img: torch.Tensor) -> Tuple[tuple, torch.Tensor]:
        """Backbone then instance projection; returns (backbone outs, unit
        (N, D) instance feats)."""
        x, neck_out = self.encode(img)
        return x, F.normalize(neck_out[0], dim=1)

    def instance_loss(self, feats: torch.Tensor, indices: torch.Tensor,
                      bank: torch.Tensor) -> torch.Tensor:
        """The NPID loss of one view's (N, D) unit features against ``bank``
        (the bank as it was before this step)."""
        if self.nce_k == 0:
            return nonparametric_softmax_loss(feats, bank, indices,
                                              self.temperature)
        noise = torch.randint(self.bank_size, (feats.shape[0], self.nce_k),
                              device=feats.device)
        if float(self.nce_z) < 0:
            z = torch.tensor(nce_normaliser(feats, bank, noise,
                                            self.temperature))
            all_reduce(z, op='mean')
            self.nce_z.fill_(float(z))
        return nce_loss(feats, bank, indices, noise, self.temperature,
                        float(self.nce_z))

    @torch.no_grad()
    def sync_memory_bank(self) -> None:
        """Copy rank 0's memory bank to every rank (a no-op in one process).

        Called by :meth:`loss` once per process, before the bank is first
        read, so every rank trains against the same bank.
        """
        broadcast(self.memory_bank, src=0)
        self._bank_synced = True

    @torch.no_grad()
    def update_memory_bank(self, feats: List[torch.Tensor],
                           indices: torch.Tensor) -> None:
        """Gather from all ranks, then update the rows view by view."""
        all_idx = torch.cat(all_gather(indices), dim=0)
        for view in feats:
            all_feats = torch.cat(all_gather(view.detach()), dim=0)
            rows = self.memory_bank[all_idx]
            self.memory_bank.index_copy_(
                0, all_idx,
                momentum_bank_rows(rows, all_feats, self.bank_momentum))

    # key of the instance loss in the loss dict (subclasses adding terms
    # rename it so that every term is logged under its own name)
    instance_loss_key = 'loss'

    def extra_losses(self, encoded: List[Tuple[tuple, tuple]],
                     data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Further loss terms from both views' (backbone, neck) outputs.

        None in NPID; subclasses (e.g. NPID+CLD) add theirs here.
        """
        return {}

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample], **kwargs) -> Dict[str, torch.Tensor]:
        """Instance loss of both views; updates the bank afterwards."""
        assert isinstance(inputs, list) and len(inputs) >= 2, \
            'NPID needs two views per image (MultiView num_views=2)'
        indices = sample_indices(data_samples, inputs[0].device)
        check_bank_indices(indices, self.bank_size)
        if not self._bank_synced:
            self.sync_memory_bank()
        # one backbone pass per view, shared by every loss term
        encoded = [self.encode(img) for img in inputs[:2]]
        feats = [F.normalize(neck_out[0], dim=1) for _, neck_out in encoded]
        # both views are scored against the bank before this step; the full
        # softmax keeps it for backward, so it gets one copy (the bank is
        # updated in place below); NCE gathers rows, which copies already
        bank = self.memory_bank.clone() if self.nce_k == 0 \
            else self.memory_bank
        loss = sum(self.instance_loss(f, indices, bank) for f in feats) / 2
        self.update_memory_bank(feats, indices)
        losses = {self.instance_loss_key: loss}
        losses.update(self.extra_losses(encoded, data_samples))
        return losses
