# ImageNet-LT (115.8k images, 1,000 classes; list file
# meta/ImageNet_LT_train.txt under data/imagenet: "train/<wnid>/<file> <label>").
_base_ = './mocov2-cld-normmlp_resnet50_8xb64-coslr-200e_in1k.py'
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CustomDataset', data_root='data/imagenet/',
    ann_file='meta/ImageNet_LT_train.txt', data_prefix='',
    pipeline={{_base_.train_dataloader.dataset.pipeline}}))
