# ImageNet, MoCo v2 augmentation (blur), three crops (q, k, q2) for MoCo+CLD.
_base_ = './imagenet_mocov2.py'
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=3,
         transforms=[{{_base_.view_pipeline}}]),
    dict(type='PackInputs'),
]))
