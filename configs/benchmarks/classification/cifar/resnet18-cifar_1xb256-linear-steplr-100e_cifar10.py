# Linear evaluation on CIFAR-10 of a CIFAR ResNet-18 (3x3 stem, no max-pool:
# the configs/npid and CLD CIFAR checkpoints): frozen backbone, linear
# classifier on the pooled 512-d feature: SGD lr 0.1, momentum 0.9, wd 0,
# batch 256, 100 epochs, lr /10 at 60 and 80 (the ImageNet protocol's
# schedule; its lr 30 is tuned to ImageNet ResNet-50 features), CIFAR
# crop/flip. The papers give no CIFAR linear protocol. Data: the folder
# layout of tools/dataset_converters/prepare_cifar10.py (meta/*.txt lists).
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_steplr_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

model = dict(
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    backbone=dict(frozen_stages=4),
    head=dict(num_classes=10))

data_root = 'data/cifar10/'
cifar10_classes = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
data_preprocessor = dict(
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=True)  # JPEGs load as BGR
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 ann_file='meta/train.txt', classes=cifar10_classes,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 ann_file='meta/test.txt', classes=cifar10_classes,
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=5)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
