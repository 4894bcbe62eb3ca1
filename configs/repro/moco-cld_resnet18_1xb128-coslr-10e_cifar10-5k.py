# CIFAR-10 reproduction on a CPU, short schedule (MoCo+CLD): the MoCo run of
# ./moco_resnet18_1xb128-coslr-10e_cifar10-5k.py (same data, schedule, queue
# and weight decay) plus CLD as in
# ../cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py: a third crop (q2)
# and the group branch, K scaled to the batch (200 per 256 -> 100 per 128),
# and the recipe's normalized linear heads (--normlinear) for both branches.
_base_ = './moco_resnet18_1xb128-coslr-10e_cifar10-5k.py'

num_views = 3

model = dict(
    type='MoCoCLD',
    neck=dict(_delete_=True, type='NormLinearNeck', in_channels=512,
              out_channels=128),
    group_neck=dict(type='NormLinearNeck', in_channels=512,
                    out_channels=128),
    cld_head=dict(type='CLDHead', num_clusters=100, temperature=0.2,
                  loss_weight=0.8, num_iters=5))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=3,
         transforms=[{{_base_.view_pipeline}}]),
    dict(type='PackInputs'),
]))
