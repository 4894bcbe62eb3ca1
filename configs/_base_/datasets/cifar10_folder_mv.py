# CIFAR-10 in the folder layout (tools/dataset_converters/prepare_cifar10.py):
# two-view NPID/MoCo augmentation for training, kNN evaluation (train images
# with test transforms as memory, test images as queries) for validation.
data_root = 'data/cifar10/'
train_ann = 'meta/train.txt'
test_ann = 'meta/test.txt'
num_views = 2
cifar10_classes = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=True)

# NPID's CIFAR view (the authors' datasets/dataloader.py): crop (0.2-1),
# colour jitter 0.4/0.4/0.4/0.4 on every view (no RandomApply), grayscale
# 0.2, flip. Images are BGR in every cld_mm pipeline (LoadImageFromFile and
# the cld_mm CIFAR/STL-10 classes), as mmcv's colour ops assume: the
# grayscale weights are the luma weights in B, G, R order, ColorJitter runs
# mmcv's BGR maths (backend 'cv2'; the pillow path warns on every call), and
# the data preprocessor converts to RGB.
color_jitter = dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                    saturation=0.4, hue=0.4, backend='cv2')
grayscale = dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
                 channel_weights=(0.114, 0.587, 0.2989))
view_pipeline = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    color_jitter,
    grayscale,
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=num_views, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=True,
    # whole batches only (the authors keep the last, partial one: 80 images
    # at 256): MoCo's queue takes whole batches and K-means needs K <= batch
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        ann_file=train_ann,
        classes=cifar10_classes,
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='KNNDataset',
        memory=dict(type='CustomDataset', data_root=data_root,
                    ann_file=train_ann, classes=cifar10_classes,
                    pipeline=test_pipeline),
        query=dict(type='CustomDataset', data_root=data_root,
                   ann_file=test_ann, classes=cifar10_classes,
                   pipeline=test_pipeline)))
val_evaluator = dict(type='KNNAccuracy', k=200, temperature=0.1)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
