# ImageNet, BYOL's two asymmetric views (mmpretrain's imagenet_bs32_byol.py)
# with ColorJitter on mmcv's BGR maths (backend 'cv2': images are BGR here,
# and the pillow path warns on every call); the preprocessor converts to RGB.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs32_byol.py'
_jitter = dict(type='RandomApply',
               transforms=[dict(type='ColorJitter', brightness=0.4,
                                contrast=0.4, saturation=0.2, hue=0.1,
                                backend='cv2')],
               prob=0.8)
_gray = dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989))
_blur = dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
             magnitude_std='inf')
_crop = dict(type='RandomResizedCrop', scale=224, interpolation='bicubic',
             backend='pillow')
view_pipeline1 = [_crop, dict(type='RandomFlip', prob=0.5), _jitter, _gray,
                  dict(_blur, prob=1.), dict(type='Solarize', thr=128, prob=0.)]
view_pipeline2 = [_crop, dict(type='RandomFlip', prob=0.5), _jitter, _gray,
                  dict(_blur, prob=0.1),
                  dict(type='Solarize', thr=128, prob=0.2)]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs'),
]
# collate_fn re-stated: inherited through 'mmpretrain::' it carries a
# `_scope_` key, which mmengine passes on to default_collate (a TypeError at
# the first batch)
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(pipeline=train_pipeline))
