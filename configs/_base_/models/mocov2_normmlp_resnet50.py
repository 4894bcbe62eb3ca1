# MoCo v2 (ImageNet) with CLD's NormMLP head: shared Linear(2048, 2048) +
# ReLU, then a normalized 128-d layer; T=0.2, queue 65536, momentum 0.999.
model = dict(
    type='EvalMoCo',
    queue_len=65536,
    feat_dim=128,
    momentum=0.001,
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='BN'),
                  zero_init_residual=False),
    neck=dict(type='NormMLPNeck', in_channels=2048, hid_channels=2048,
              out_channels=128),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
              temperature=0.2))
