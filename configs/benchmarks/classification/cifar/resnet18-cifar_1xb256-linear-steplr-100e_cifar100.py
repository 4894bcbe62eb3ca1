# Linear evaluation on CIFAR-100 of a CIFAR ResNet-18, same protocol as the
# CIFAR-10 config; data through mmpretrain's CIFAR100 class (the python
# batches in data/cifar100/cifar-100-python/, downloaded if absent).
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_steplr_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

model = dict(
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    backbone=dict(frozen_stages=4),
    head=dict(num_classes=100))
train_dataloader = dict(batch_size=256, num_workers=4)
val_dataloader = dict(batch_size=256, num_workers=4)
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=5)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
