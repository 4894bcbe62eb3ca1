# MoCo v2+CLD (ImageNet), NormMLP: the shared Linear(2048, 2048) + ReLU feeds
# a normalized instance layer and a normalized group layer (both 128-d);
# K=120, T_G=0.4, lambda=0.25.
_base_ = './mocov2_normmlp_resnet50.py'
model = dict(
    type='MoCoCLD',
    neck=dict(_delete_=True, type='TwoBranchMLPNeck', in_channels=2048,
              hid_channels=2048, out_channels=128, group_channels=128,
              normalized=True),
    group_neck='neck',  # the neck's second (group) output
    cld_head=dict(type='CLDHead', num_clusters=120, temperature=0.4,
                  loss_weight=0.25, num_iters=5))
