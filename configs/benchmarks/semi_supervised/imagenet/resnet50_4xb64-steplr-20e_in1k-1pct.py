# Semi-supervised ImageNet, 1% labels (CLD supplement, following S4L /
# OpenSelfSup): the pre-training neck/head are dropped, a linear classifier
# is put on the pooled ResNet-50 feature and the whole network fine-tuned.
# SGD lr 0.01 for the backbone and x100 for the head, momentum 0.9, wd 1e-4,
# batch 256 (4 GPUs x 64), 20 epochs, lr /5 at epochs 12 and 16.
# Labelled subset: tools/dataset_converters/imagenet_semi_split.py writes
# data/imagenet/meta/train_1percent.txt.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

labelled_list = 'meta/train_1percent.txt'
model = dict(init_cfg=dict(type='PretrainedBackbone', checkpoint=''))
train_dataloader = dict(
    batch_size=64,
    dataset=dict(split='train', ann_file=labelled_list))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=100.)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.2)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=256)
