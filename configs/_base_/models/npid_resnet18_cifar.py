# NPID with a CIFAR ResNet-18 (3x3 stem, no max-pool) and a 128-d linear head.
model = dict(
    type='NPID',
    bank_size=50000,
    feat_dim=128,
    temperature=0.1,
    bank_momentum=0.5,
    nce_k=0,
    eval_level='neck',
    # init_cfg=None: PyTorch's default conv init (kaiming_uniform, a=sqrt(5)),
    # as the authors' models/resnet_cifar.py, not mmpretrain's Kaiming fan_out
    backbone=dict(type='ResNet_CIFAR', depth=18, norm_cfg=dict(type='BN'),
                  zero_init_residual=False, init_cfg=None),
    # NPID's head: global average pool, one linear layer (with bias), no BN.
    neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
              gap_dim=2, norm_cfg=None))
custom_hooks = [dict(type='BankSizeCheckHook')]
