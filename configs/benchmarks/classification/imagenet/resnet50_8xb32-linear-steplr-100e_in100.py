# Linear evaluation on ImageNet-100 (the 100-class subset of CMC), with the
# CLD authors' protocol of the ImageNet config (lr 30, wd 0, batch 256,
# 100 epochs, steps at 60/80). Class folders data/imagenet100/{train,val}/.
# Pre-trained weights: --cfg-options model.init_cfg.checkpoint=PATH
_base_ = './resnet50_8xb32-linear-steplr-100e_in1k.py'

data_root = 'data/imagenet100'
model = dict(head=dict(num_classes=100))
data_preprocessor = dict(num_classes=100)
train_dataloader = dict(
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='train',
                 pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='val',
                 pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
