# Linear evaluation on ImageNet, the CLD authors' protocol (MoCo's lincls):
# frozen ResNet-50, linear classifier on the pooled 2048-d feature, SGD lr 30,
# momentum 0.9, wd 0, batch 256 (8 GPUs x 32), 100 epochs, lr /10 at 60, 80.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_steplr_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

model = dict(
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    backbone=dict(frozen_stages=4))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=30., momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[60, 80], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
