# STL-10 binary release (data/stl10/stl10_binary): train+unlabeled (105,000
# images) at 96 px, two views; kNN with train as memory, test as queries.
data_root = 'data/stl10/stl10_binary/'
num_views = 2
# the authors' STL-10 normalization: (x / 255 - 0.5) / 0.5; cld_mm's STL10
# gives BGR images like every cld_mm pipeline, the preprocessor converts.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)
# the authors' STL-10 view: crop (0.2-1) to 96 px, colour jitter
# 0.4/0.4/0.4/0.4 on every view, grayscale 0.2 (B, G, R luma weights), flip
view_pipeline = [
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.4, backend='cv2'),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    batch_size=256, num_workers=8, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='STL10', data_root=data_root, split='train+unlabeled',
                 pipeline=[dict(type='MultiView', num_views=num_views,
                                transforms=[view_pipeline]),
                           dict(type='PackInputs')]))
val_dataloader = dict(
    batch_size=256, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='KNNDataset',
                 memory=dict(type='STL10', data_root=data_root, split='train',
                             pipeline=[dict(type='PackInputs')]),
                 query=dict(type='STL10', data_root=data_root, split='test',
                            pipeline=[dict(type='PackInputs')])))
val_evaluator = dict(type='KNNAccuracy', k=200, temperature=0.1)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
