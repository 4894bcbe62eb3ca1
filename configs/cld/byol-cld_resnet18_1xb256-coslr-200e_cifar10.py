# BYOL+CLD, CIFAR-10: BYOL plus a group branch Linear(512, 128) + L2 norm on
# the online backbone; CLD K=128, T_G=0.2, lambda=1.0 (the NPID+CLD CIFAR-10
# values; our choice, the authors released no BYOL CIFAR script).
_base_ = '../byol/byol_resnet18_1xb256-coslr-200e_cifar10.py'
model = dict(
    type='BYOLCLD',
    group_neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
                    gap_dim=2, norm_cfg=None),
    cld_head=dict(type='CLDHead', num_clusters=128, temperature=0.2,
                  loss_weight=1.0, num_iters=5))
