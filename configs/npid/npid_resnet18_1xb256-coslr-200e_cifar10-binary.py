# NPID on CIFAR-10 read from the original python batches (mmpretrain's CIFAR10
# dataset) instead of the folder layout; otherwise the CIFAR-10 recipe.
_base_ = [
    '../_base_/models/npid_resnet18_cifar.py',
    '../_base_/datasets/cifar10_binary_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}})
