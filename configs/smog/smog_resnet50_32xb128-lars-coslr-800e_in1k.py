# SMoG, ResNet-50, ImageNet-1k, 800 epochs, batch 4096 (32 GPUs x 128).
# Paper (linear top-1): 74.5.
_base_ = './smog_resnet50_16xb128-lars-coslr-400e_in1k.py'
max_epochs = 800
warmup_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=0.3 * 4096 / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=4096)
