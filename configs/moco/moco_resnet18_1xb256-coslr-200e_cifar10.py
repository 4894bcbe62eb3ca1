# MoCo v1, CIFAR-10 (baseline of cld/moco-cld_..._cifar10.py): two crops
# with the same augmentation (MoCo v2's + random erasing), T=0.07, queue
# 12288, bs 256, lr 0.06, warm-up + cosine, wd 8e-4; MoCo's linear head
# (the normalized linear heads belong to the +CLD recipe).
_base_ = [
    '../_base_/models/moco_resnet18_cifar.py',
    '../_base_/datasets/cifar10_folder_mv_plus.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}})
optim_wrapper = dict(optimizer=dict(weight_decay=8e-4))
val_evaluator = dict(temperature=0.07)
test_evaluator = val_evaluator
