# NPID+CLD, STL-10 train+unlabeled (105,000 images) at 96 px: the CIFAR-10
# NPID+CLD recipe (K=128, T_G=0.2, lambda=1.0) with a ResNet-18 ImageNet stem.
_base_ = [
    '../_base_/models/npid_cld_resnet18_cifar.py',
    '../_base_/datasets/stl10_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}}, bank_size=105000,
             backbone=dict(type='ResNet', depth=18))
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
