# BYOL+CLD, ImageNet: mmpretrain's BYOL recipe plus a NormLinear group branch
# (2048 -> 128) on the online backbone; CLD K=120, T_G=0.4, lambda=0.25 as
# the ImageNet MoCo v2+CLD recipe.
_base_ = '../byol/byol_resnet50_16xb256-coslr-200e_in1k.py'
model = dict(
    type='BYOLCLD',
    group_neck=dict(type='NormLinearNeck', in_channels=2048,
                    out_channels=128),
    cld_head=dict(type='CLDHead', num_clusters=120, temperature=0.4,
                  loss_weight=0.25, num_iters=5))
