# LARS for SMoG on ImageNet (BYOL's recipe as in mmpretrain): lr 0.3 x bs/256,
# weight decay 1e-6 (BN and biases excluded from decay and LARS adaptation),
# 10 linear warm-up epochs, cosine to 0. Top-level configs set max_epochs
# and the lr for their batch size.
max_epochs = 400
warmup_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=2.4, momentum=0.9, weight_decay=1e-6),
    paramwise_cfg=dict(custom_keys={
        'bn': dict(decay_mult=0, lars_exclude=True),
        'bias': dict(decay_mult=0, lars_exclude=True),
        'downsample.1': dict(decay_mult=0, lars_exclude=True),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
