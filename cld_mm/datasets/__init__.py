from .cifar_folder import prepare_cifar10_folder
from .knn_dataset import KNNDataset

__all__ = ['KNNDataset', 'prepare_cifar10_folder']
