# FCN (dilated R50, output stride 8) on PASCAL VOC 2012 + SBD aug, 512x512
# crops, 20k iterations, batch 16 (4 GPUs x 4), SyncBN. mIoU / mAcc on val.
# The backbone is the standard ResNet-50 stem (not mmseg's V1c deep stem) so
# that the self-supervised weights load unchanged.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    backbone=dict(type='ResNet'))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
