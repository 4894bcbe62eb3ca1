# Quickstart: MoCo+CLD on a CPU (kNN 29.7 % at random init -> 36.2 % here;
# about 14 s per step on 2 nearly idle cores, so about 30 min). The recipe of
# ../repro/moco-cld_resnet18_1xb128-coslr-10e_cifar10-5k.py (the authors'
# CIFAR MoCo+CLD: three crops, MoCo v2 augmentation + random erasing,
# normalized linear heads, K=100 per batch of 128, lr 0.03, wd 8e-4) on the
# same class-balanced 5,000-image subset, for 3 epochs instead of 10 (1
# warm-up epoch, cosine over 2). kNN (k=200) on 1,000 test images runs twice:
# on the randomly initialised network before the first step
# (ValBeforeTrainHook) and after the last epoch; the log ends with both
# figures. Measured figures and wall time: README (Quickstart).
_base_ = '../repro/moco-cld_resnet18_1xb128-coslr-10e_cifar10-5k.py'

max_epochs = 3
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
custom_hooks = [dict(type='ValBeforeTrainHook')]
