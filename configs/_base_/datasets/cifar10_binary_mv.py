# CIFAR-10 from the original python release (data/cifar10-binary/
# cifar-10-batches-py, read by cld_mm's CIFAR10Python in BGR like every
# cld_mm pipeline), with the two-view augmentation and kNN validation of
# cifar10_folder_mv.py.
_base_ = './cifar10_folder_mv.py'
data_root = 'data/cifar10-binary/'
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CIFAR10Python', data_root=data_root, split='train',
    pipeline=[dict(type='MultiView', num_views=2,
                   transforms=[{{_base_.view_pipeline}}]),
              dict(type='PackInputs')]))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='KNNDataset',
    memory=dict(type='CIFAR10Python', data_root=data_root, split='train',
                pipeline=[dict(type='PackInputs')]),
    query=dict(type='CIFAR10Python', data_root=data_root, split='test',
               pipeline=[dict(type='PackInputs')])))
test_dataloader = val_dataloader
