# MoCo+CLD (CIFAR-10): three crops (q, k, q2), group branch Linear(512, 128)
# + L2 norm, K=200, T_G=0.2, lambda=0.8. The authors' CIFAR MoCo+CLD scripts
# pass --normlinear, which makes both heads normalized linear layers
# (norm_linear_neck below for the instance neck; the CIFAR-10 and CIFAR-100
# configs use it).
_base_ = './moco_resnet18_cifar.py'
# (_delete_: replaces a LinearNeck of a base config instead of merging into it)
norm_linear_neck = dict(_delete_=True, type='NormLinearNeck', in_channels=512,
                        out_channels=128)
model = dict(
    type='MoCoCLD',
    group_neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
                    gap_dim=2, norm_cfg=None),
    cld_head=dict(type='CLDHead', num_clusters=200, temperature=0.2,
                  loss_weight=0.8, num_iters=5))
