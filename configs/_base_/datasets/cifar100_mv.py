# CIFAR-100 (mmpretrain's CIFAR100: the python release under data/cifar100),
# the CIFAR two-view augmentation of cifar10_folder_mv.py, kNN validation.
_base_ = './cifar10_folder_mv.py'
data_root = 'data/cifar100/'
# mmpretrain's CIFAR arrays are RGB already: no channel swap
data_preprocessor = dict(to_rgb=False)
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CIFAR100', data_root=data_root, split='train',
    pipeline=[dict(type='MultiView', num_views=2,
                   transforms=[{{_base_.view_pipeline}}]),
              dict(type='PackInputs')]))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='KNNDataset',
    memory=dict(type='CIFAR100', data_root=data_root, split='train',
                pipeline=[dict(type='PackInputs')]),
    query=dict(type='CIFAR100', data_root=data_root, split='test',
               pipeline=[dict(type='PackInputs')])))
test_dataloader = val_dataloader
