_base_ = [
    '../_base_/models/npid_resnet18_cifar.py',
    '../_base_/datasets/cifar10_folder_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}})
