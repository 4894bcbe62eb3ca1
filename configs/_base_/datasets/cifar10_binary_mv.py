# CIFAR-10 from the original python release (mmpretrain's CIFAR10 reads
# data/cifar10-binary/cifar-10-batches-py), with the two-view augmentation and
# kNN validation of cifar10_folder_mv.py. mmpretrain's CIFAR arrays are RGB,
# so the preprocessor does not swap channels.
_base_ = './cifar10_folder_mv.py'
data_root = 'data/cifar10-binary/'
data_preprocessor = dict(to_rgb=False)
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CIFAR10', data_root=data_root, split='train',
    pipeline=[dict(type='MultiView', num_views=2,
                   transforms=[{{_base_.view_pipeline}}]),
              dict(type='PackInputs')]))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='KNNDataset',
    memory=dict(type='CIFAR10', data_root=data_root, split='train',
                pipeline=[dict(type='PackInputs')]),
    query=dict(type='CIFAR10', data_root=data_root, split='test',
               pipeline=[dict(type='PackInputs')])))
test_dataloader = val_dataloader
