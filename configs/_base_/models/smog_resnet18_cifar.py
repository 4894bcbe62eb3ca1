# SMoG with a CIFAR ResNet-18 (3x3 stem, no max-pool): projection
# 512-2048(BN, ReLU)-128(BN), predictor 128-2048(BN, ReLU)-128, 300 groups
# for CIFAR-10, re-clustered every 300 iterations on the last 16,384 features.
model = dict(
    type='SMoG',
    num_groups=300,
    feat_dim=128,
    # group momentum beta, linear from 1.0 at the first iteration to 0.99
    # at the last (SMoG slides, Table 7a: '1.0 -> 0.99', the best row)
    beta_schedule='linear',
    beta_start=1.0,
    beta_end=0.99,
    target_momentum=0.01,  # mmengine EMA: weight of the online net (0.99)
    cache_size=16384,
    kmeans_iters=10,
    # faiss's search when installed and the cache is on the CPU, else torch
    recluster_backend='auto',
    reset_target_on_recluster=True,
    eval_level='backbone',
    backbone=dict(type='ResNet_CIFAR', depth=18, norm_cfg=dict(type='BN'),
                  zero_init_residual=False),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=2048,
              out_channels=128, num_layers=2, with_bias=False,
              with_last_bn=True, with_avg_pool=True,
              norm_cfg=dict(type='BN1d')),
    predictor=dict(type='NonLinearNeck', in_channels=128, hid_channels=2048,
                   out_channels=128, num_layers=2, with_bias=False,
                   with_last_bn=False, with_last_bias=True,
                   with_avg_pool=False, norm_cfg=dict(type='BN1d')),
    # the loss: predictions against the group table (SMoGHead)
    head=dict(type='SMoGHead', temperature=0.1, instance_weight=0.0,
              instance_temperature=0.1))
recluster_interval = 300
custom_hooks = [dict(type='SMoGReclusterHook', interval=recluster_interval)]
