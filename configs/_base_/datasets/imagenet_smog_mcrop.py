# ImageNet multi-crop for SMoG: 2 x 224 px global crops (BYOL's two
# asymmetric views, scale 0.14-1) + 4 x 96 px local crops (scale 0.05-0.14);
# ColorJitter on mmcv's BGR maths (backend 'cv2', see ./imagenet_byol.py).
_base_ = './imagenet_byol.py'

num_crops = [1, 1, 4]
_jitter = dict(type='RandomApply',
               transforms=[dict(type='ColorJitter', brightness=0.4,
                                contrast=0.4, saturation=0.2, hue=0.1,
                                backend='cv2')],
               prob=0.8)
_gray = dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989))
_blur = dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
             magnitude_std='inf')
view_pipeline1 = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.14, 1.),
         interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5), _jitter, _gray, dict(_blur, prob=1.),
    dict(type='Solarize', thr=128, prob=0.),
]
view_pipeline2 = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.14, 1.),
         interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5), _jitter, _gray, dict(_blur, prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
local_view = [
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.05, 0.14),
         interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5), _jitter, _gray, dict(_blur, prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=num_crops,
         transforms=[view_pipeline1, view_pipeline2, local_view]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
