# NPID+CLD (CIFAR): NPID's instance branch plus a group branch, Linear(512,
# 128) then L2 norm, batch k-means K=128, T_G=0.2, lambda=1.0.
_base_ = './npid_resnet18_cifar.py'
model = dict(
    type='NPIDCLD',
    group_neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
                    gap_dim=2, norm_cfg=None),
    cld_head=dict(type='CLDHead', num_clusters=128, temperature=0.2,
                  loss_weight=1.0, num_iters=5))
