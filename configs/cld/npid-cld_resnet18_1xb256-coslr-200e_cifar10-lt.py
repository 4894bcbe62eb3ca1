# NPID+CLD, CIFAR10-LT (exponential profile, imbalance ratio 100, 12406 images):
# the CIFAR10 NPID+CLD recipe (K=128) on the long-tailed subset.
_base_ = [
    '../_base_/models/npid_cld_resnet18_cifar.py',
    '../_base_/datasets/cifar10_lt_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}}, bank_size=12406,
             cld_head=dict(num_clusters=128))
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
