# MoCo+CLD, CIFAR-10 (the authors' recipe): three crops with MoCo v2's
# augmentation and random erasing (--aug-plus --erasing), normalized linear
# heads (--normlinear), bs 256, lr 0.06 (0.03 per 128), warm-up + cosine,
# wd 8e-4, 200 epochs; MoCo T=0.07, queue 12288; CLD K=200, T_G=0.2,
# lambda=0.8.
_base_ = [
    '../_base_/models/moco_cld_resnet18_cifar.py',
    '../_base_/datasets/cifar10_folder_3crop_plus.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}},
             neck={{_base_.norm_linear_neck}},
             group_neck=dict(_delete_=True, type='NormLinearNeck',
                             in_channels=512, out_channels=128))
optim_wrapper = dict(optimizer=dict(weight_decay=8e-4))
val_evaluator = dict(temperature=0.07)
test_evaluator = val_evaluator
