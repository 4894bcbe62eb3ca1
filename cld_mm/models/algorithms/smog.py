"""SMoG: synchronous momentum grouping with periodic re-clustering."""
import warnings
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import (
    all_gather,
    all_reduce,
    broadcast,
    get_rank,
)
from mmengine.logging import MessageHub
from mmengine.model import ExponentialMovingAverage
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils.dist import all_reduce_with_grad
from ..utils.kmeans_faiss import faiss_available, spherical_kmeans_recluster
from ..utils.momentum_group import (
    assign_groups,
    check_beta,
    group_sums,
    linear_beta,
    momentum_group_update_from_sums,
)
from .base import EvalSelfSupervisor

BETA_SCHEDULES = ('linear', 'fixed')
RECLUSTER_BACKENDS = ('auto', 'torch', 'faiss')
# SMoG arguments that moved to its head (SMoGHead)
MOVED_TO_HEAD = ('temperature', 'instance_weight', 'instance_temperature')


@MODELS.register_module()
class SMoG(EvalSelfSupervisor):
    """SMoG (`Pang et al., ECCV 2022 <https://arxiv.org/abs/2207.06167>`_).

    Per iteration, with global views a, b (and optional local crops):

    1. The momentum encoder (EMA of backbone + projection) embeds a and b;
       each embedding's group c^a, c^b is its most cosine-similar group among
       the groups G of the previous step (no gradient).
    2. The online unit projections of a and b are assigned to G the same way
       and move the groups: ``g_k <- normalize(beta g_k + (1 - beta) mean)``
       (:func:`momentum_group_update_from_sums`). The per-group sums and
       counts are all-reduced first, so every rank holds the same groups;
       the sums' all-reduce is differentiable (:func:`all_reduce_with_grad`),
       so the new groups keep the graph of the online projections of every
       rank.
    3. Loss, computed by the head (:class:`~cld_mm.models.heads.SMoGHead`)
       from the online predictions z, the groups G' of step 2 (gradients
       also flow through the group features) and the targets:
       ``0.5 [CE(z^a G'^T / tau, c^b) + CE(z^b G'^T / tau, c^a)]``; local
       crops predict both c^a and c^b; optionally an instance term.
    4. The momentum embeddings of view a from all ranks enter a FIFO cache of
       the last ``cache_size`` features; :meth:`recluster` (called every N
       iterations by :class:`cld_mm.engine.hooks.SMoGReclusterHook`) replaces
       G by spherical k-means centroids of the cache, computed on rank 0 and
       broadcast, and optionally copies the online weights into the momentum
       encoder.

    The algorithm owns the state: groups, cache and the beta-schedule
    position (``group_step``) are its buffers, so a checkpoint resumes all of
    them; the head holds the loss options only and receives the groups.

    EMA convention (mmengine's, used throughout cld_mm): ``target_momentum``
    is the weight of the *online* parameters, ``t <- (1 - m) t + m online``;
    m = 0.01 is the conventional momentum 0.99.

    Args:
        backbone (dict): backbone config.
        neck (dict): projection MLP (e.g. ``NonLinearNeck`` to ``feat_dim``
            with BN).
        predictor (dict): prediction MLP, ``feat_dim`` -> ``feat_dim``.
        head (dict): the loss, ``dict(type='SMoGHead', temperature=0.1,
            instance_weight=0.0, instance_temperature=0.1)``.
        num_groups (int): K. Defaults to 3000.
        feat_dim (int): projection dimension. Defaults to 128.
        beta_schedule (str): ``'linear'``: the group momentum beta (weight
            of the old group) goes linearly from ``beta_start`` at the
            first iteration to ``beta_end`` at the last; ``'fixed'``:
            ``beta`` throughout. Defaults to ``'linear'``.
        beta_start (float): beta of the first iteration (linear).
            Defaults to 1.0.
        beta_end (float): beta of the last iteration (linear). Defaults to
            0.99 (the SMoG slides' Table 7a, best row "1.0 -> 0.99").
        beta (float, optional): beta of the ``'fixed'`` schedule; None
            means 0.99. Defaults to None.
        beta_end_factor: removed (a factor of a base beta); raises a
            ``ValueError`` naming ``beta_start`` / ``beta_end``.
        total_iters (int, optional): schedule length; None reads the
            runner's ``max_iters`` from the message hub. Defaults to None.
        target_momentum (float): EMA weight of the online encoder (see the
            convention above), fixed over training. Defaults to 0.01.
        cache_size (int): M, features kept for re-clustering (>= K).
            Defaults to 65536.
        kmeans_iters (int): k-means iterations per re-clustering.
            Defaults to 10.
        recluster_backend (str): k-means of the re-clustering
            (:func:`~cld_mm.models.utils.kmeans_faiss.spherical_kmeans_recluster`,
            the same algorithm either way): ``'auto'`` uses faiss's search
            when faiss is installed and the cache is a CPU tensor, else
            torch; ``'torch'``; ``'faiss'`` (a ``ValueError`` at
            construction if faiss is not installed). Defaults to ``'auto'``.
        reset_target_on_recluster (bool): copy the online encoder into the
            momentum encoder at each re-clustering. Defaults to True.
        seed (int): seed of the k-means generators. Defaults to 0.
        eval_level (str): kNN feature, ``'backbone'`` or ``'neck'``.
            Defaults to ``'backbone'``.
        data_preprocessor (dict, optional): Defaults to None.
        init_cfg (dict, optional): Defaults to None.
        temperature, instance_weight, instance_temperature: moved to the
            head; given here they raise a ``ValueError`` naming
            ``head=dict(type='SMoGHead', ...)``.
    """

    def __init__(self, backbone: dict, neck: dict, predictor: dict,
                 head: Optional[dict] = None,
                 num_groups: int = 3000, feat_dim: int = 128,
                 beta_schedule: str = 'linear',
                 beta_start: float = 1.0, beta_end: float = 0.99,
                 beta: Optional[float] = None,
                 total_iters: Optional[int] = None,
                 target_momentum: float = 0.01, cache_size: int = 65536,
                 kmeans_iters: int = 10, recluster_backend: str = 'auto',
                 reset_target_on_recluster: bool = True, seed: int = 0,
                 eval_level: str = 'backbone',
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 beta_end_factor: Optional[float] = None,
                 temperature: Optional[float] = None,
                 instance_weight: Optional[float] = None,
                 instance_temperature: Optional[float] = None) -> None:
        moved = [k for k, v in zip(MOVED_TO_HEAD, (
            temperature, instance_weight, instance_temperature))
            if v is not None]
        if moved:
            raise ValueError(
                f'SMoG no longer takes {", ".join(moved)}: the loss options '
                "moved to its head, head=dict(type='SMoGHead', "
                'temperature=..., instance_weight=..., '
                'instance_temperature=...)')
        if head is None:
            raise ValueError("SMoG needs a head, e.g. head=dict("
                             "type='SMoGHead', temperature=0.1)")
        if beta_end_factor is not None:
            raise ValueError(
                'SMoG no longer takes beta_end_factor (a factor of a base '
                'beta): give the schedule by its beta values, beta_start '
                '(first iteration, default 1.0) and beta_end (last '
                'iteration, default 0.99); the old beta * beta_end_factor '
                'is beta_end')
        if neck is None or predictor is None:
            raise ValueError('SMoG needs a `neck` (projection) and a '
                             '`predictor`')
        if int(num_groups) < 1:
            raise ValueError(f'num_groups must be >= 1, got {num_groups}')
        if int(cache_size) < int(num_groups):
            raise ValueError(f'cache_size ({cache_size}) must be >= '
                             f'num_groups ({num_groups}) to re-cluster')
        if recluster_backend not in RECLUSTER_BACKENDS:
            raise ValueError(f'recluster_backend must be one of '
                             f'{RECLUSTER_BACKENDS}, got '
                             f'{recluster_backend!r}')
        if recluster_backend == 'faiss' and not faiss_available():
            raise ValueError(
                "recluster_backend='faiss' needs faiss, which is not "
                "installed (pip install faiss-cpu); 'auto' falls back to "
                "torch's k-means")
        if beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f'beta_schedule must be one of {BETA_SCHEDULES},'
                             f' got {beta_schedule!r}')
        if beta_schedule == 'linear' and beta is not None:
            raise ValueError(
                "beta is the value of beta_schedule='fixed'; the linear "
                'schedule reads beta_start and beta_end')
        beta = 0.99 if beta is None else beta
        for value in (beta, beta_start, beta_end):
            check_beta(value)
        super().__init__(backbone=backbone, neck=neck, head=head,
                         pretrained=pretrained,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.predictor = MODELS.build(predictor)
        self.target = ExponentialMovingAverage(
            nn.Sequential(self.backbone, self.neck), momentum=target_momentum)
        self.num_groups, self.feat_dim = int(num_groups), int(feat_dim)
        self.beta, self.beta_schedule = beta, beta_schedule
        self.beta_start, self.beta_end = beta_start, beta_end
        self.total_iters = total_iters
        self.kmeans_iters = kmeans_iters
        self.recluster_backend = recluster_backend
        self.reset_target_on_recluster = reset_target_on_recluster
        self.seed = seed
        self.eval_level = self._check_eval_level(eval_level)
        self.register_buffer('groups', F.normalize(
            torch.randn(self.num_groups, self.feat_dim), dim=1))
        self.register_buffer('feature_cache',
                             torch.zeros(int(cache_size), self.feat_dim))
        self.register_buffer('cache_ptr', torch.tensor(0))
        self.register_buffer('cache_filled', torch.tensor(0))
        self.register_buffer('group_step', torch.tensor(0))
        self.register_buffer('num_reclusters', torch.tensor(0))

    # ---------------------------------------------------------------- state
    def current_beta(self) -> float:
        """The group momentum of this step (from ``group_step``)."""
        if self.beta_schedule == 'fixed':
            return self.beta
        total = self.total_iters
        if total is None:
            total = MessageHub.get_current_instance().get_info('max_iters')
        if total is None:
            raise ValueError(
                "beta_schedule='linear' needs the schedule length: set "
                "model.total_iters or train with a Runner (max_iters)")
        return linear_beta(int(self.group_step), int(total),
                           self.beta_start, self.beta_end)

    @torch.no_grad()
    def push_cache(self, feats: torch.Tensor) -> None:
        """Write (B, D) features into the FIFO cache (the last M are kept)."""
        size = self.feature_cache.shape[0]
        feats = feats.detach()[-size:]
        idx = (int(self.cache_ptr) + torch.arange(
            feats.shape[0], device=feats.device)) % size
        self.feature_cache.index_copy_(0, idx, feats.to(
            self.feature_cache.dtype))
        self.cache_ptr.fill_((int(self.cache_ptr) + feats.shape[0]) % size)
        self.cache_filled.fill_(min(size,
                                    int(self.cache_filled) + feats.shape[0]))

    @torch.no_grad()
    def recluster(self) -> bool:
        """Replace the groups by k-means centroids of the feature cache.

        Rank 0 clusters (seeded by ``seed`` and the re-clustering count,
        with ``recluster_backend``) and broadcasts, so every rank gets the
        same groups. Returns False (and changes nothing) while the cache
        holds fewer than K features.
        """
        filled = int(self.cache_filled)
        if filled < self.num_groups:
            warnings.warn(f'SMoG re-clustering skipped: the cache holds '
                          f'{filled} < num_groups={self.num_groups} features')
            return False
        if get_rank() == 0:
            gen = torch.Generator().manual_seed(
                self.seed + int(self.num_reclusters))
            self.groups.copy_(spherical_kmeans_recluster(
                self.feature_cache[:filled], self.num_groups,
                self.kmeans_iters, generator=gen,
                backend=self.recluster_backend))
        broadcast(self.groups, 0)
        if self.reset_target_on_recluster:
            online = nn.Sequential(self.backbone, self.neck)
            for t, s in zip(self.target.module.state_dict().values(),
                            online.state_dict().values()):
                t.copy_(s)
        self.num_reclusters += 1
        return True

    # ------------------------------------------------------------- forward
    def project(self, img: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, D) online projections (not normalized)."""
        return self.neck(self.backbone(img))[0]

    @torch.no_grad()
    def target_features(self, img: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, D) unit momentum-encoder embeddings."""
        return F.normalize(self.target(img)[0], dim=1)

    @torch.no_grad()
    def group_labels(self, img: torch.Tensor) -> torch.Tensor:
        """(N,) groups the momentum encoder assigns to images (analysis)."""
        return assign_groups(self.target_features(img), self.groups)

    def update_groups(self, feats: torch.Tensor, beta: float) -> torch.Tensor:
        """Momentum step from (N, D) unit online features of this rank.

        Sums and counts are all-reduced over ranks; the returned (K, D)
        groups depend on the features of every rank, and the backward of
        the sums' all-reduce returns to each rank the gradient of every
        rank's loss with respect to its features (after DDP's averaging the
        gradients equal one process's over the concatenated batch).
        """
        labels = assign_groups(feats, self.groups)
        # sums: KxD (with graph), counts: K
        sums, counts = group_sums(feats, labels, self.num_groups)
        total_sums = all_reduce_with_grad(sums)
        total_counts = counts.clone()
        all_reduce(total_counts)
        # a copy: the buffer is overwritten after the loss is built
        return momentum_group_update_from_sums(self.groups.clone(),
                                               total_sums, total_counts, beta)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Group-contrastive loss; moves the groups and fills the cache."""
        if not isinstance(inputs, list) or len(inputs) < 2:
            raise ValueError('SMoG needs at least two views per image '
                             '(MultiView num_views=2 or [2, n_local])')
        if int(self.group_step) == 0:
            broadcast(self.groups, 0)  # one initial table on every rank
        beta = self.current_beta()
        with torch.no_grad():
            self.target.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            emb = [self.target_features(x) for x in inputs[:2]]
            # targets: groups of the momentum embeddings, previous groups
            tgt = [assign_groups(e, self.groups) for e in emb]
        proj = [self.project(x) for x in inputs[:2]]
        if len(inputs) > 2:  # local crops share a size: one forward
            local = self.project(torch.cat(inputs[2:]))
            proj += list(local.chunk(len(inputs) - 2))
        preds = [self.predictor([p])[0] for p in proj]
        new_groups = self.update_groups(
            F.normalize(torch.cat(proj[:2]), dim=1), beta)
        losses = self.head.loss(preds, new_groups, tgt, keys=emb)
        with torch.no_grad():
            self.groups.copy_(new_groups.detach())
            self.push_cache(torch.cat(all_gather(emb[0]), dim=0))
            self.group_step += 1
            # diagnostics (no 'loss' in the keys: not summed)
            loss = losses['loss_group']
            losses['beta'] = loss.new_tensor(beta)
            losses['groups_used'] = loss.new_tensor(
                float(torch.unique(torch.cat(tgt)).numel()))
        return losses
