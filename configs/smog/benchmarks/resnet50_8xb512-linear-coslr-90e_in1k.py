# Linear evaluation of a SMoG ResNet-50 (any of the ResNet-50 pre-training
# configs in configs/smog): frozen backbone, LARS, 90 epochs, batch 4096,
# mmpretrain's BYOL protocol, i.e. cld_mm's standard ImageNet linear
# protocol. The pre-trained weights, as in every cld_mm evaluation config:
#   --cfg-options model.init_cfg.checkpoint=work_dirs/.../epoch_400.pth
_base_ = ('../../benchmarks/classification/imagenet/'
          'resnet50_8xb512-linear-coslr-90e_in1k.py')
