# NPID+CLD, CIFAR100-LT (exponential profile, imbalance ratio 100, 10847 images):
# the CIFAR100 NPID+CLD recipe (K=200) on the long-tailed subset.
_base_ = [
    '../_base_/models/npid_cld_resnet18_cifar.py',
    '../_base_/datasets/cifar100_lt_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}}, bank_size=10847,
             cld_head=dict(num_clusters=200))
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
