# ImageNet-100 (100 classes from a list file, meta/imagenet100_train.txt
# under data/imagenet: "train/<wnid>/<file> <label>" lines): bs 512, lr 0.8.
_base_ = './mocov2-normmlp_resnet50_8xb64-coslr-200e_in1k.py'
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CustomDataset', data_root='data/imagenet/',
    ann_file='meta/imagenet100_train.txt', data_prefix='',
    pipeline={{_base_.train_dataloader.dataset.pipeline}}))
optim_wrapper = dict(optimizer=dict(lr=0.8))
