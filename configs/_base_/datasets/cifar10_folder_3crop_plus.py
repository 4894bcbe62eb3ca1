# CIFAR-10 folder data, three crops (MoCo+CLD: q, k, q2) with the
# augmentation of cifar10_folder_mv_plus.py (--aug-plus --erasing).
_base_ = './cifar10_folder_mv_plus.py'
num_views = 3
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=3,
         transforms=[{{_base_.view_pipeline}}]),
    dict(type='PackInputs'),
]))
