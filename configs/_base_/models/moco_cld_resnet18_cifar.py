# MoCo+CLD (CIFAR-10): three crops (q, k, q2), group branch Linear(512, 128)
# + L2 norm, K=200, T_G=0.2, lambda=0.8.
_base_ = './moco_resnet18_cifar.py'
model = dict(
    type='MoCoCLD',
    cld=dict(
        group_neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
                        gap_dim=2, norm_cfg=None),
        num_clusters=200, temperature=0.2, weight=0.8, num_iters=5))
