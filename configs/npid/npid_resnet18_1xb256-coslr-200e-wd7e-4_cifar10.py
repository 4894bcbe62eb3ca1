# Baseline of cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py: the same
# recipe (wd 7e-4) without CLD.
_base_ = './npid_resnet18_1xb256-coslr-200e_cifar10.py'
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
