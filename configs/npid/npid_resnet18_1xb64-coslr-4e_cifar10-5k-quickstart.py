# A short NPID run on a CPU: the class-balanced 5,000-image CIFAR-10 subset,
# batch 64, 4 epochs, kNN on 1,000 test images at the end (about 10 minutes
# on 2 idle CPU cores). Not the quickstart: at this budget NPID ends below
# the randomly initialised network's kNN (measured 21.5 % vs 30.6 %; its
# first epochs contrast every image with bank rows that no view of it has
# written yet). The quickstart that shows learning in the same time is
# ../quickstart/moco-cld_resnet18-s2_1xb128-coslr-6e_cifar10-5k.py.
_base_ = './npid_resnet18_1xb256-coslr-200e_cifar10.py'

train_ann = 'meta/train_5k.txt'
test_ann = 'meta/test_1k.txt'
max_epochs = 4

model = dict(bank_size=5000)
train_dataloader = dict(batch_size=64, num_workers=2,
                        dataset=dict(ann_file=train_ann))
val_dataloader = dict(
    batch_size=250, num_workers=2,
    dataset=dict(memory=dict(ann_file=train_ann),
                 query=dict(ann_file=test_ann)))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.03 * 64 / 128))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=1e-6,
         by_epoch=True, begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs))
