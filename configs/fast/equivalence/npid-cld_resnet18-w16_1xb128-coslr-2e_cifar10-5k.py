# Fast-path equivalence measurement (docs/fast_path.md), CPU data pipeline:
# the CPU reproduction recipe
# ../../repro/npid-cld_resnet18_1xb128-coslr-10e_cifar10-5k.py (5,000
# images, batch 128, kNN on 1,000 test images every epoch) shortened to 2
# epochs with a ResNet-18 of a quarter width (16 base channels: 128-d
# features), so that three seeds of each data path fit in minutes on a CPU.
# Its twin ./npid-cld_resnet18-w16_1xb128-coslr-2e_cifar10-5k-fast.py
# differs only in the data loading.
_base_ = '../../repro/npid-cld_resnet18_1xb128-coslr-10e_cifar10-5k.py'
max_epochs = 2
model = dict(
    backbone=dict(base_channels=16, stem_channels=16),
    neck=dict(in_channels=128),
    group_neck=dict(in_channels=128))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
