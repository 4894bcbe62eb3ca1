from .cifar_folder import prepare_cifar10_folder
from .knn_dataset import KNNDataset
from .semi_split import class_balanced_subset, read_image_list

__all__ = ['KNNDataset', 'prepare_cifar10_folder', 'class_balanced_subset',
           'read_image_list']
