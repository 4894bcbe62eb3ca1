# FCN (dilated R50, output stride 8) on Cityscapes fine, 769x769 crops,
# 40k iterations, batch 8 (4 GPUs x 2), SyncBN, sliding-window test.
# mIoU / mAcc on val. Standard ResNet-50 stem (not V1c) for the
# self-supervised weights.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py'
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    backbone=dict(type='ResNet'))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
