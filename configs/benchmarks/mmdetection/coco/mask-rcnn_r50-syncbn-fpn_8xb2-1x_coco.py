# Mask R-CNN R50-FPN on COCO 2017, 1x schedule (12 epochs, batch 16 = 8 GPUs
# x 2, lr 0.02, /10 at epochs 8 and 11), SyncBN everywhere: backbone (nothing
# frozen), FPN, a 4conv-1fc box head and the mask head. Box and mask AP.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    init_cfg=dict(type='PretrainedBackbone', checkpoint=''),
    backbone=dict(
        frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))
auto_scale_lr = dict(base_batch_size=16)
