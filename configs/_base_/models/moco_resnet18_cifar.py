# MoCo v1 (CIFAR): ResNet-18 CIFAR stem, linear 128-d head, T=0.07,
# key encoder momentum 0.999 (mmengine convention: 0.001 = weight of the new
# parameters), queue 12288.
model = dict(
    type='EvalMoCo',
    queue_len=12288,
    feat_dim=128,
    momentum=0.001,
    eval_level='neck',
    backbone=dict(type='ResNet_CIFAR', depth=18, norm_cfg=dict(type='BN'),
                  zero_init_residual=False),
    neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
              gap_dim=2, norm_cfg=None),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
              temperature=0.07))
