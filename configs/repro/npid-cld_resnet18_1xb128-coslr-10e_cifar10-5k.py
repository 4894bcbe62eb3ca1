# CIFAR-10 reproduction on a CPU, short schedule (NPID+CLD): the NPID run of
# ./npid_resnet18_1xb128-coslr-10e_cifar10-5k.py (same data, schedule and
# weight decay) plus the CLD group branch of
# ../cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py, with K scaled to
# the batch (128 per 256 images in the full recipe -> 64 per 128).
_base_ = './npid_resnet18_1xb128-coslr-10e_cifar10-5k.py'

model = dict(
    type='NPIDCLD',
    group_neck=dict(type='LinearNeck', in_channels=512, out_channels=128,
                    gap_dim=2, norm_cfg=None),
    cld_head=dict(type='CLDHead', num_clusters=64, temperature=0.2,
                  loss_weight=1.0, num_iters=5))
