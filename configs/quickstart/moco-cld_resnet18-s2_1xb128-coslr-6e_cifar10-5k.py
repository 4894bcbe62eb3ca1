# Quickstart: MoCo+CLD on a CPU in under 10 minutes, printing the kNN of
# the randomly initialised network and of the trained one (README,
# Quickstart, has the figures and the wall time measured here).
#
# The recipe of ../repro/moco-cld_resnet18_1xb128-coslr-10e_cifar10-5k.py
# (the authors' CIFAR MoCo+CLD: three crops, MoCo v2 augmentation + random
# erasing, normalized linear heads, K=100 per batch of 128, lr 0.03, wd
# 8e-4) on the same class-balanced 5,000-image subset, with three changes
# that make it fit a first run on two CPU cores:
# - the CIFAR ResNet-18's first stage at stride 2 (16x16 maps instead of
#   32x32; every later stage halves again): the same layers plus the 1x1
#   shortcut projection of a strided block, 4x fewer multiply-adds;
# - the fast data path (docs/fast_path.md): images decoded once into memory
#   (InMemoryImages) and the recipe's own view pipeline drawn per sample on
#   the model's device (DeviceMultiViewPreprocessor), no loader workers;
# - 6 epochs (1 warm-up, cosine over 5) instead of 10.
# kNN (k=200) on 1,000 test images runs on the randomly initialised network
# before the first step (ValBeforeTrainHook) and after the last epoch; the
# log ends with both figures.
_base_ = '../repro/moco-cld_resnet18_1xb128-coslr-10e_cifar10-5k.py'

max_epochs = 6
model = dict(
    backbone=dict(strides=(2, 2, 2, 2)),
    data_preprocessor=dict(
        type='DeviceMultiViewPreprocessor',
        view_pipeline={{_base_.view_pipeline}},
        num_views={{_base_.num_views}}))
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='InMemoryImages',
                 dataset={{_base_.train_dataloader.dataset}}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
custom_hooks = [dict(type='ValBeforeTrainHook')]
