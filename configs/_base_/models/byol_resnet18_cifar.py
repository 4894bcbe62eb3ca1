# BYOL (CIFAR): ResNet-18 CIFAR stem, projector 512-4096-256, predictor
# 256-4096-256, target EMA 0.996 (mmengine convention: base_momentum 0.004).
model = dict(
    type='EvalBYOL',
    base_momentum=0.004,
    eval_level='backbone',
    backbone=dict(type='ResNet_CIFAR', depth=18, norm_cfg=dict(type='SyncBN'),
                  zero_init_residual=False),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=4096,
              out_channels=256, num_layers=2, with_bias=True,
              with_last_bn=False, with_avg_pool=True),
    head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
              predictor=dict(type='NonLinearNeck', in_channels=256,
                             hid_channels=4096, out_channels=256,
                             num_layers=2, with_bias=True,
                             with_last_bn=False, with_avg_pool=False)))
