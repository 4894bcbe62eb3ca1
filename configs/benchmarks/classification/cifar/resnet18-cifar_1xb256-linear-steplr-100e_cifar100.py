# Linear evaluation on CIFAR-100 of a CIFAR ResNet-18, same protocol as the
# CIFAR-10 config. Data: the python release in
# data/cifar100/cifar-100-python/ (never downloaded), read by cld_mm's
# CIFAR100Python in BGR like the CIFAR-100 pre-training configs, with their
# input normalization (CIFAR-10's mean/std, as the authors' CIFAR-100 runs):
# the frozen backbone sees the inputs it was trained on.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = './resnet18-cifar_1xb256-linear-steplr-100e_cifar10.py'

data_root = 'data/cifar100/'
model = dict(head=dict(num_classes=100))
data_preprocessor = dict(num_classes=100)
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CIFAR100Python', data_root=data_root,
    split='train', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CIFAR100Python', data_root=data_root, split='test',
    pipeline=test_pipeline))
test_dataloader = val_dataloader
