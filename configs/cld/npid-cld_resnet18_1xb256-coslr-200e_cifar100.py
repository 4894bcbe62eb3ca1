# NPID+CLD, CIFAR-100: as CIFAR-10 with K=200.
_base_ = [
    '../_base_/models/npid_cld_resnet18_cifar.py',
    '../_base_/datasets/cifar100_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}},
             cld_head=dict(num_clusters=200))
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
