# SMoG, CIFAR-10, ResNet-18, batch 128 (390 iterations per epoch), 200
# epochs: the setting of the published third-party CIFAR-10 kNN figure.
_base_ = './smog_resnet18_1xb512-coslr-200e_cifar10.py'
batch_size = 128
train_dataloader = dict(batch_size=batch_size)
optim_wrapper = dict(optimizer=dict(lr=0.06 * batch_size / 256))
auto_scale_lr = dict(base_batch_size=batch_size)
