# MoCo v2 with the NormMLP head, ImageNet (baseline of
# cld/mocov2-cld-normmlp_resnet50_8xb64-coslr-200e_in1k.py): two crops, bs
# 512 on 8 GPUs, lr 0.2, T=0.2, queue 65536, 200 epochs cosine.
_base_ = [
    '../_base_/models/mocov2_normmlp_resnet50.py',
    '../_base_/datasets/imagenet_mocov2.py',
    '../_base_/schedules/sgd_coslr-200e_in1k_bs512.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}})
train_dataloader = dict(batch_size=64)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
