# MoCo v2+CLD with NormMLP heads, ImageNet (the authors' recipe): three
# crops, bs 512 on 8 GPUs (64 per GPU), lr 0.2, 200 epochs cosine, wd 1e-4;
# MoCo T=0.2, queue 65536; CLD K=120, T_G=0.4, lambda=0.25 (per-GPU batch
# k-means as the authors; set model.cld_head.global_clustering=True to cluster
# the global batch of 512).
_base_ = [
    '../_base_/models/mocov2_cld_normmlp_resnet50.py',
    '../_base_/datasets/imagenet_mocov2_3crop.py',
    '../_base_/schedules/sgd_coslr-200e_in1k_bs512.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}})
train_dataloader = dict(batch_size=64)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
