from .knn import KNNAccuracy, topk_accuracy, weighted_knn_scores

__all__ = ['KNNAccuracy', 'weighted_knn_scores', 'topk_accuracy']
