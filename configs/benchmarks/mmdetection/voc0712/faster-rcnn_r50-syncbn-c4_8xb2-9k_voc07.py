# Faster R-CNN R50-C4 on VOC07 trainval only, tested on VOC07 test: the
# 24k VOC07+12 protocol with 9k iterations (lr /10 at 6.75k and 8.25k, the
# 24k schedule's 3/4 and 11/12 points).
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = './faster-rcnn_r50-syncbn-c4_8xb2-24k_voc0712.py'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='VOCDataset',
        data_root={{_base_.data_root}},
        ann_file='VOC2007/ImageSets/Main/trainval.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline={{_base_.train_pipeline}}))

max_iter = 9000
train_cfg = dict(max_iters=max_iter, val_interval=3000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=100),
    dict(type='MultiStepLR', begin=0, end=max_iter, by_epoch=False,
         milestones=[6750, 8250], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=3000))
