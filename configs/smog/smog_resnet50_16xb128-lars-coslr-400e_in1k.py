# SMoG, ResNet-50, ImageNet-1k, 400 epochs, batch 2048 (16 GPUs x 128).
# Paper (linear top-1): 73.6. Optimizer: LARS (see docs/smog.md).
_base_ = [
    '../_base_/models/smog_resnet50.py',
    '../_base_/datasets/imagenet_byol.py',
    '../_base_/schedules/smog_lars_coslr_in1k.py',
    '../_base_/default_runtime.py',
]
batch_size = 128  # per GPU
model = dict(data_preprocessor={{_base_.data_preprocessor}})
train_dataloader = dict(batch_size=batch_size, num_workers=8)
optim_wrapper = dict(optimizer=dict(lr=0.3 * 2048 / 256))
auto_scale_lr = dict(base_batch_size=2048)
val_cfg = val_dataloader = val_evaluator = None
