# BYOL, CIFAR-10 (baseline of cld/byol-cld_resnet18_1xb256-coslr-200e_cifar10.py);
# our CIFAR recipe: the NPID/CLD CIFAR schedule, wd 7e-4.
_base_ = [
    '../_base_/models/byol_resnet18_cifar.py',
    '../_base_/datasets/cifar10_folder_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}})
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
