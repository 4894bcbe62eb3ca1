# mmpretrain's BYOL recipe (ImageNet, 16x256, LARS 4.8, 200 epochs; its
# byol/byol_resnet50_16xb256-coslr-200e_in1k.py) with the kNN predict mode:
# baseline of cld/byol-cld_resnet50_16xb256-coslr-200e_in1k.py. The views
# are those of ../_base_/datasets/imagenet_byol.py (ColorJitter on BGR).
_base_ = [
    '../_base_/datasets/imagenet_byol.py',
    'mmpretrain::_base_/schedules/imagenet_lars_coslr_200e.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=256)
model = dict(
    type='EvalBYOL',
    base_momentum=0.01,
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='SyncBN'),
                  zero_init_residual=False),
    neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=4096,
              out_channels=256, num_layers=2, with_bias=True,
              with_last_bn=False, with_avg_pool=True),
    head=dict(type='LatentPredictHead',
              predictor=dict(type='NonLinearNeck', in_channels=256,
                             hid_channels=4096, out_channels=256,
                             num_layers=2, with_bias=True,
                             with_last_bn=False, with_avg_pool=False),
              loss=dict(type='CosineSimilarityLoss')))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=4.8, momentum=0.9, weight_decay=1e-6),
    paramwise_cfg=dict(custom_keys={
        'bn': dict(decay_mult=0, lars_exclude=True),
        'bias': dict(decay_mult=0, lars_exclude=True),
        'downsample.1': dict(decay_mult=0, lars_exclude=True),
    }))
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=4096)
