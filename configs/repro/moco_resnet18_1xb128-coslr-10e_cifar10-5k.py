# CIFAR-10 reproduction on a CPU, short schedule (MoCo): the recipe of
# ../moco/moco_resnet18_1xb256-coslr-200e_cifar10.py
# on the class-balanced 5,000-image subset, batch 128 (lr 0.03: the
# authors' 0.03 per 128 images), 10 epochs (1 warm-up, cosine), kNN on 1,000
# test images after every epoch. The four configs in configs/repro/ differ only
# in the algorithm. Commands and figures: docs/evidence.md.
_base_ = '../moco/moco_resnet18_1xb256-coslr-200e_cifar10.py'

train_ann = 'meta/train_5k.txt'
test_ann = 'meta/test_1k.txt'
batch_size = 128
max_epochs = 10
# a queue shorter than the 5,000-image subset (12288 in the full recipe);
# mmpretrain's normal queue init, with which the figures in the README and
# docs/evidence.md were measured (the full recipe: the authors' uniform init)
model = dict(queue_len=4096, queue_init='normal')
train_dataloader = dict(batch_size=batch_size, num_workers=2,
                        dataset=dict(ann_file=train_ann))
val_dataloader = dict(
    batch_size=250, num_workers=2,
    dataset=dict(memory=dict(ann_file=train_ann),
                 query=dict(ann_file=test_ann)))
test_dataloader = val_dataloader
# one weight decay for the pair (the +CLD recipe's), lr scaled to the batch
optim_wrapper = dict(optimizer=dict(lr=0.03 * batch_size / 128,
                                   weight_decay=8e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=1, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=batch_size)
