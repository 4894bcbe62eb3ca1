from .checkpoint_convert import (
    PretrainedBackbone,
    assign_to_targets,
    extract_backbone,
    to_torchvision_resnet,
)
from .kmeans import assign_nearest, batch_kmeans, cluster_means, kmeans
from .memory_bank import check_bank_indices, init_memory_bank, momentum_bank_rows
from .momentum_group import (
    assign_groups,
    group_sums,
    linear_beta,
    momentum_group_update,
    momentum_group_update_from_sums,
)

__all__ = ['batch_kmeans', 'kmeans', 'assign_nearest', 'cluster_means',
           'init_memory_bank', 'momentum_bank_rows', 'check_bank_indices',
           'assign_groups', 'group_sums', 'linear_beta',
           'momentum_group_update', 'momentum_group_update_from_sums',
           'PretrainedBackbone', 'assign_to_targets', 'extract_backbone',
           'to_torchvision_resnet']
