# Faster R-CNN R50-C4 on VOC07+12 trainval, tested on VOC07 test: MoCo's
# detection protocol, used by the CLD paper. res5 is the RoI head (with an
# extra norm after it), SyncBN in backbone and head, nothing frozen, RGB input
# with ImageNet mean/std; train short side 480-800 (step 32), test 800;
# 24k iterations, batch 16 (8 GPUs x 2), lr 0.02, /10 at 18k and 22k.
# Metrics: AP50 (VOC07 11-point) and COCO-style AP (mean over IoU .50:.95).
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'
custom_imports = dict(
    imports=['cld_mm', 'mmpretrain.models.utils.res_layer_extra_norm'],
    allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    roi_head=dict(
        shared_head=dict(
            type='ResLayerExtraNorm',
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            init_cfg=None)))

max_iter = 24000
train_cfg = dict(max_iters=max_iter, val_interval=4000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=100),
    dict(type='MultiStepLR', begin=0, end=max_iter, by_epoch=False,
         milestones=[18000, 22000], gamma=0.1)
]
val_evaluator = dict(
    type='VOCMetric', metric='mAP', eval_mode='11points',
    iou_thrs=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
auto_scale_lr = dict(base_batch_size=16)
