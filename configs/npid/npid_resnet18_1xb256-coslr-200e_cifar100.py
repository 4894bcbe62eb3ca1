# NPID, CIFAR-100 (baseline of cld/npid-cld_..._cifar100.py): wd 7e-4.
_base_ = [
    '../_base_/models/npid_resnet18_cifar.py',
    '../_base_/datasets/cifar100_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}})
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
