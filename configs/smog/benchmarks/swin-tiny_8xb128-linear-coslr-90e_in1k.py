# Linear evaluation of a SMoG Swin-T: patch embedding, all four stages and
# the last norm frozen (mmpretrain's Swin counts stages from 0:
# frozen_stages=3 is all four; 4 raised an IndexError at the first train()),
# global average pooling, one linear layer; SGD lr 12 (as
# mmpretrain's MoCo v3 ViT linear protocol), 90 epochs, batch 1024. The
# pre-trained weights, as in every cld_mm evaluation config:
#   --cfg-options model.init_cfg.checkpoint=work_dirs/.../epoch_400.pth
_base_ = 'mmpretrain::mocov3/benchmarks/vit-small-p16_8xb128-linear-coslr-90e_in1k.py'
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

model = dict(
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    backbone=dict(_delete_=True, type='SwinTransformer', arch='tiny',
                  img_size=224, out_indices=(3, ), frozen_stages=3,
                  norm_eval=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(_delete_=True, type='LinearClsHead', num_classes=1000,
              in_channels=768,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
              init_cfg=dict(type='Normal', std=0.01, layer='Linear')))
