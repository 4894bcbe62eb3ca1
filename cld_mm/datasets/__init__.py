from .cifar_folder import prepare_cifar10_folder
from .cifar_python import CIFAR10Python, CIFAR100Python, read_cifar_batches
from .in_memory import InMemoryImages
from .knn_dataset import KNNDataset
from .long_tail import LongTailDataset, long_tail_counts
from .semi_split import class_balanced_subset, read_image_list
from .stl10 import STL10

__all__ = ['CIFAR10Python', 'CIFAR100Python', 'read_cifar_batches',
           'InMemoryImages',
           'KNNDataset', 'LongTailDataset', 'long_tail_counts', 'STL10',
           'prepare_cifar10_folder', 'class_balanced_subset',
           'read_image_list']
