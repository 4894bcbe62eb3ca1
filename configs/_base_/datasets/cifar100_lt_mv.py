# CIFAR-100-LT: exponential profile n_c = 500 * 100^(-c/99) (10,847 images).
_base_ = './cifar100_mv.py'
train_dataloader = dict(dataset=dict(
    _delete_=True, type='LongTailDataset', imbalance_ratio=100,
    dataset={{_base_.train_dataloader.dataset}}))
