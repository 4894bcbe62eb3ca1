# Linear evaluation on ImageNet, mmpretrain's standard self-supervised
# protocol (SimCLR / BYOL / SwAV benchmarks): frozen ResNet-50, LARS lr 1.6,
# batch 4096 (8 GPUs x 512), cosine over 90 epochs, wd 0.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_lars_coslr_90e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

model = dict(
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    backbone=dict(frozen_stages=4))
train_dataloader = dict(batch_size=512)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
