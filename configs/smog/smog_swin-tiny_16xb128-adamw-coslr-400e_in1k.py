# SMoG with a Swin-T backbone, ImageNet-1k, 400 epochs, batch 2048 (16 GPUs
# x 128). AdamW (lr 1e-3 x bs/1024, weight decay 0.05, no decay on norms,
# biases and position tables), 10 warm-up epochs, cosine. Paper (linear
# top-1): 74.5.
_base_ = [
    '../_base_/models/smog_resnet50.py',
    '../_base_/datasets/imagenet_byol.py',
    '../_base_/schedules/smog_lars_coslr_in1k.py',
    '../_base_/default_runtime.py',
]
batch_size = 128  # per GPU
model = dict(
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(_delete_=True, type='SwinTransformer', arch='tiny',
                  img_size=224, drop_path_rate=0.1, out_indices=(3, )),
    neck=dict(in_channels=768))
train_dataloader = dict(batch_size=batch_size, num_workers=8)
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3 * 2048 / 1024, betas=(0.9, 0.999),
                   weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0,
        custom_keys={'.absolute_pos_embed': dict(decay_mult=0.0),
                     '.relative_position_bias_table': dict(decay_mult=0.0)}))
auto_scale_lr = dict(base_batch_size=2048)
val_cfg = val_dataloader = val_evaluator = None
