# MoCo v1 (CIFAR): ResNet-18 CIFAR stem, linear 128-d head, T=0.07,
# key encoder momentum 0.999 (mmengine convention: 0.001 = weight of the new
# parameters), queue 12288.
model = dict(
    type='EvalMoCo',
    queue_len=12288,
    feat_dim=128,
    momentum=0.001,
    # the authors' CIFAR queue: U(+-1/sqrt(d/3)), not normalised
    queue_init='uniform',
    eval_level='neck',
    # init_cfg=None: PyTorch's default conv init (kaiming_uniform, a=sqrt(5)),
    # as the authors' models/resnet_cifar.py, not mmpretrain's Kaiming fan_out
    backbone=dict(type='ResNet_CIFAR', depth=18, norm_cfg=dict(type='BN'),
                  zero_init_residual=False, init_cfg=None),
    neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
              gap_dim=2, norm_cfg=None),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
              temperature=0.07))
