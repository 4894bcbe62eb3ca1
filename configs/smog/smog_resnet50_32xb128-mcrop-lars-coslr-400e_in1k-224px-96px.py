# SMoG with multi-crop (2 x 224 + 4 x 96), ResNet-50, ImageNet-1k, 400 epochs,
# batch 4096 (32 GPUs x 128). Paper (linear top-1): 76.4.
_base_ = [
    '../_base_/models/smog_resnet50.py',
    '../_base_/datasets/imagenet_smog_mcrop.py',
    '../_base_/schedules/smog_lars_coslr_in1k.py',
    '../_base_/default_runtime.py',
]
batch_size = 128  # per GPU
model = dict(data_preprocessor={{_base_.data_preprocessor}})
train_dataloader = dict(batch_size=batch_size, num_workers=8)
optim_wrapper = dict(optimizer=dict(lr=0.3 * 4096 / 256))
auto_scale_lr = dict(base_batch_size=4096)
val_cfg = val_dataloader = val_evaluator = None
