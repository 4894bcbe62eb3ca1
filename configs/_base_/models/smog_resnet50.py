# SMoG with a ResNet-50 for ImageNet: projection 2048-4096(BN, ReLU)-128(BN),
# predictor 128-4096(BN, ReLU)-128, 3,000 groups (the paper: 3k suffice),
# re-clustered every 300 iterations on the last 100,000 momentum embeddings
# (gathered from all GPUs), with the momentum encoder reset at that moment.
model = dict(
    type='SMoG',
    num_groups=3000,
    feat_dim=128,
    # group momentum beta, linear from 1.0 at the first iteration to 0.99
    # at the last (SMoG slides, Table 7a: '1.0 -> 0.99', the best row)
    beta_schedule='linear',
    beta_start=1.0,
    beta_end=0.99,
    # mmengine EMA convention: weight of the online encoder, i.e. the
    # conventional momentum 0.996
    target_momentum=0.004,
    cache_size=100000,
    kmeans_iters=10,
    # faiss's search when installed and the cache is on the CPU, else torch
    recluster_backend='auto',
    reset_target_on_recluster=True,
    eval_level='backbone',
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='SyncBN'),
                  zero_init_residual=False),
    neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=4096,
              out_channels=128, num_layers=2, with_bias=False,
              with_last_bn=True, with_avg_pool=True,
              norm_cfg=dict(type='SyncBN')),
    predictor=dict(type='NonLinearNeck', in_channels=128, hid_channels=4096,
                   out_channels=128, num_layers=2, with_bias=False,
                   with_last_bn=False, with_last_bias=True,
                   with_avg_pool=False, norm_cfg=dict(type='SyncBN')),
    # the loss: predictions against the group table (SMoGHead)
    head=dict(type='SMoGHead', temperature=0.1, instance_weight=0.0,
              instance_temperature=0.1))
recluster_interval = 300
custom_hooks = [dict(type='SMoGReclusterHook', interval=recluster_interval)]
