# CIFAR-10 folder data, two views with the authors' CIFAR MoCo+CLD
# augmentation (--aug-plus --erasing): MoCo v2's view (crop 0.2-1, colour
# jitter 0.4/0.4/0.4/0.1 with p 0.8, grayscale 0.2, Gaussian blur sigma
# 0.1-2 with p 0.5, flip), then random erasing of every view (area 2-33 %,
# aspect 0.3-3.3) filled with the mean colour, i.e. 0 after normalization as
# in torchvision's RandomErasing after Normalize. Images are BGR here (the
# data preprocessor converts), hence the mean in BGR order.
_base_ = './cifar10_folder_mv.py'
view_pipeline = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.),
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
    dict(type='RandomErasing', erase_prob=1.0, min_area_ratio=0.02,
         max_area_ratio=0.33, aspect_range=(0.3, 3.3), mode='const',
         fill_color=[113.8575, 122.961, 125.307]),
]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]))
