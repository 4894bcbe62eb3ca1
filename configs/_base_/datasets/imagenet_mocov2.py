# ImageNet, MoCo v2's two views (mmpretrain's imagenet_bs32_mocov2.py) with
# ColorJitter on mmcv's BGR maths (backend 'cv2': images are BGR here, and
# the pillow path warns on every call); the preprocessor converts to RGB.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs32_mocov2.py'
view_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1, backend='cv2')],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
# collate_fn re-stated: inherited through 'mmpretrain::' it carries a
# `_scope_` key, which mmengine passes on to default_collate (a TypeError at
# the first batch)
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(pipeline=train_pipeline))
