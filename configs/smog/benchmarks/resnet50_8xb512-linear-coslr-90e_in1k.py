# Linear evaluation of a SMoG ResNet-50 (any of the ResNet-50 pre-training
# configs in configs/smog): frozen backbone, LARS, 90 epochs, batch 4096,
# mmpretrain's BYOL protocol. Pass the pre-training checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_400.pth
_base_ = 'mmpretrain::byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py'
