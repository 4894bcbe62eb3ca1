# MoCo+CLD, CIFAR-100 (the authors' recipe): three crops, bs 128, lr 0.03,
# queue 4096, wd 7e-4, MoCo T=0.07, normalized linear heads (--normlinear);
# CLD K=100, T_G=0.2, lambda=0.25.
_base_ = [
    '../_base_/models/moco_cld_resnet18_cifar.py',
    '../_base_/datasets/cifar100_3crop.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}}, queue_len=4096,
             neck={{_base_.norm_linear_neck}},
             group_neck=dict(_delete_=True, type='NormLinearNeck',
                             in_channels=512, out_channels=128),
             cld_head=dict(num_clusters=100, loss_weight=0.25))
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=7e-4))
auto_scale_lr = dict(base_batch_size=128)
val_evaluator = dict(temperature=0.07)
test_evaluator = val_evaluator
