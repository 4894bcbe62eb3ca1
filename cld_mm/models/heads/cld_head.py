"""The head of CLD: group features of two views in, ``loss_cld`` out.

`Unsupervised Feature Learning by Cross-Level Instance-Group Discrimination
<https://arxiv.org/abs/2008.03813>`_ (Wang, Liu, Yu, CVPR 2021).
"""
from typing import Dict, Optional

import torch
from mmengine.dist import broadcast, get_world_size
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..losses.cross_level import cross_level_loss_with_stats, global_cross_level_loss
from ..utils.kmeans import INITS


@MODELS.register_module()
class CLDHead(BaseModule):
    """Cross-level instance-group discrimination, as a head.

    Each view's (N, D) group features are clustered in the batch (K-means,
    :func:`cld_mm.models.utils.batch_kmeans`); every instance of one view is
    classified against the other view's centroids, its target the cluster
    the other view of the same image fell into
    (:func:`cld_mm.models.losses.cross_level_loss`)::

        loss_cld = lambda * 1/2 [CE(f_a C_b^T / T, y_b) + CE(f_b C_a^T / T, y_a)]

    The head holds options only (no parameters, no buffers): the group
    branch that produces the features is the algorithm's ``group_neck``.

    Args:
        num_clusters (int): K of the batch k-means (K > N: every row is its
            own cluster).
        temperature (float): T_G. Defaults to 0.2.
        loss_weight (float): lambda; ``loss_cld`` is already multiplied by
            it. Defaults to 1.0.
        num_iters (int): k-means iterations. Defaults to 5.
        spherical (bool): spherical k-means (cosine assignment, unit
            centroids). Defaults to False (the authors': squared Euclidean).
        init (str): k-means init, ``'first'`` (the first K rows, the
            authors'), ``'random'`` or ``'kmeans++'``. Defaults to
            ``'first'``.
        global_clustering (bool): cluster the batch gathered from every rank
            (:func:`cld_mm.models.losses.global_cross_level_loss`) instead of
            each rank's own batch. Defaults to False (the authors').
        init_cfg (dict, optional): Defaults to None.

    Examples:
        >>> head = CLDHead(num_clusters=3, temperature=0.2, loss_weight=0.5)
        >>> f = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
        >>> sorted(head.loss(f, f))
        ['cld_group_acc', 'cld_num_groups', 'loss_cld']
    """

    def __init__(self, num_clusters: int, temperature: float = 0.2,
                 loss_weight: float = 1.0, num_iters: int = 5,
                 spherical: bool = False, init: str = 'first',
                 global_clustering: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if int(num_clusters) != num_clusters or num_clusters < 1:
            raise ValueError(f'CLDHead num_clusters must be an integer >= 1, '
                             f'got {num_clusters}')
        if temperature <= 0:
            raise ValueError(f'Illegal CLDHead temperature {temperature}: '
                             'must be > 0')
        if loss_weight < 0:
            raise ValueError(f'CLDHead loss_weight must be >= 0, got '
                             f'{loss_weight}')
        if int(num_iters) != num_iters or num_iters < 1:
            raise ValueError(f'CLDHead num_iters must be an integer >= 1, '
                             f'got {num_iters}')
        if init not in INITS:
            raise ValueError(f'CLDHead init must be one of {INITS}, got '
                             f'{init!r}')
        self.num_clusters = int(num_clusters)
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.num_iters = int(num_iters)
        self.spherical = spherical
        self.init = init
        self.global_clustering = global_clustering

    def _generator(self, device: torch.device) -> Optional[torch.Generator]:
        """A generator seeded alike on every rank, for a random init of a
        global clustering (every rank must find the same clusters)."""
        if self.init == 'first' or not (self.global_clustering and
                                        get_world_size() > 1):
            return None
        seed = torch.randint(2**62, (1, ), device=device)
        broadcast(seed, src=0)
        return torch.Generator().manual_seed(int(seed))

    def loss(self, group_feats_a: torch.Tensor,
             group_feats_b: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``loss_cld`` (lambda * L_CLD) and its diagnostics.

        Args:
            group_feats_a (Tensor): (N, D) unit group features of view a.
            group_feats_b (Tensor): (N, D) unit group features of view b,
                row i the same image as row i of view a.

        Returns:
            dict: ``loss_cld``; ``cld_group_acc`` (percent of view a's rows
            whose nearest centroid of view b is their target) and
            ``cld_num_groups`` (non-empty clusters, mean of the two views):
            diagnostics, not summed into the loss.
        """
        fn = (global_cross_level_loss if self.global_clustering else
              cross_level_loss_with_stats)
        loss, stats = fn(group_feats_a, group_feats_b, self.num_clusters,
                         self.temperature, self.num_iters,
                         spherical=self.spherical, init=self.init,
                         generator=self._generator(group_feats_a.device))
        return dict(loss_cld=self.loss_weight * loss,
                    cld_group_acc=stats['group_acc'],
                    cld_num_groups=stats['num_groups'])
