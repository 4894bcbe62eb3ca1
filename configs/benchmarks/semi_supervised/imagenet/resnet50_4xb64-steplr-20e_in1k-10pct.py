# Semi-supervised ImageNet, 10% labels: the 1% protocol on
# data/imagenet/meta/train_10percent.txt.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = './resnet50_4xb64-steplr-20e_in1k-1pct.py'

labelled_list = 'meta/train_10percent.txt'
train_dataloader = dict(dataset=dict(ann_file=labelled_list))
