# CIFAR-10 folder data with three crops per image (MoCo+CLD: q, k, q2).
_base_ = './cifar10_folder_mv.py'
num_views = 3
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=3,
         transforms=[{{_base_.view_pipeline}}]),
    dict(type='PackInputs'),
]))
