# NPID, STL-10 train+unlabeled at 96 px (baseline of the NPID+CLD config).
# ResNet-18 with the ImageNet stem (96 px input).
_base_ = [
    '../_base_/models/npid_resnet18_cifar.py',
    '../_base_/datasets/stl10_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}}, bank_size=105000,
             backbone=dict(type='ResNet', depth=18))
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
