# The NPID/CLD CIFAR schedule: SGD with the authors' linear scaling, 0.03 per
# 128 images (their scripts pass 0.03 and multiply it by batch / 128), so 0.06
# at bs 256; 5 linear warm-up epochs from lr/100, cosine to 1e-6 (the
# authors' lib/lr_scheduler.py eta_min) at epoch 200,
# kNN every 5 epochs.
max_epochs = 200
warmup_epochs = 5
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
