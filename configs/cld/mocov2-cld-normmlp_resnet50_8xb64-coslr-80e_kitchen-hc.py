# Kitchen-HC (images in class folders under data/kitchen-hc/train), 80 epochs
# of the ImageNet MoCo v2 recipe.
_base_ = './mocov2-cld-normmlp_resnet50_8xb64-coslr-200e_in1k.py'
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CustomDataset', data_root='data/kitchen-hc/',
    data_prefix='train', pipeline={{_base_.train_dataloader.dataset.pipeline}}))
max_epochs = 80
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs,
                        by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs)
