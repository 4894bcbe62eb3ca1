from .checkpoint import (
    CheckpointMismatchError,
    check_checkpoint_fits,
    load_eval_checkpoint,
)
from .group_metrics import group_class_entropy, group_quality, normalized_mutual_info
from .hooks import ProgressBarHook, ValBeforeTrainHook
from .knn import KNNAccuracy, topk_accuracy, weighted_knn_scores
from .label_free import alignment, label_free_scores, uniformity, view_retrieval

__all__ = ['group_class_entropy', 'group_quality', 'normalized_mutual_info',
           'KNNAccuracy', 'weighted_knn_scores', 'topk_accuracy',
           'view_retrieval', 'alignment', 'uniformity', 'label_free_scores',
           'CheckpointMismatchError', 'check_checkpoint_fits',
           'load_eval_checkpoint', 'ProgressBarHook', 'ValBeforeTrainHook']
