# CIFAR-100 (the python release under data/cifar100/cifar-100-python, read
# by cld_mm's CIFAR100Python in BGR like every cld_mm pipeline), the CIFAR
# two-view augmentation of cifar10_folder_mv.py, kNN validation.
_base_ = './cifar10_folder_mv.py'
data_root = 'data/cifar100/'
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CIFAR100Python', data_root=data_root, split='train',
    pipeline=[dict(type='MultiView', num_views=2,
                   transforms=[{{_base_.view_pipeline}}]),
              dict(type='PackInputs')]))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='KNNDataset',
    memory=dict(type='CIFAR100Python', data_root=data_root, split='train',
                pipeline=[dict(type='PackInputs')]),
    query=dict(type='CIFAR100Python', data_root=data_root, split='test',
               pipeline=[dict(type='PackInputs')])))
test_dataloader = val_dataloader
