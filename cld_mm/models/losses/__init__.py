from .cross_level import (
    cross_level_loss,
    cross_level_loss_with_stats,
    cross_level_terms,
    global_cross_level_loss,
)
from .group_contrastive import (
    group_contrastive_loss,
    group_contrastive_term,
    instance_contrastive_loss,
    multi_view_group_contrastive_loss,
)
from .instance import nce_loss, nce_normaliser, nonparametric_softmax_loss

__all__ = ['cross_level_loss', 'cross_level_loss_with_stats',
           'cross_level_terms', 'global_cross_level_loss',
           'nonparametric_softmax_loss', 'nce_loss', 'nce_normaliser',
           'group_contrastive_loss', 'group_contrastive_term',
           'instance_contrastive_loss', 'multi_view_group_contrastive_loss']
