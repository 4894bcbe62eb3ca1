# NPID, CIFAR100-LT (imbalance ratio 100): baseline of
# cld/npid-cld_resnet18_1xb256-coslr-200e_cifar100-lt.py.
_base_ = [
    '../_base_/models/npid_resnet18_cifar.py',
    '../_base_/datasets/cifar100_lt_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}}, bank_size=10847)
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
