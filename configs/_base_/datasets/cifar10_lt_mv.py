# CIFAR-10-LT: the first n_c training images of class c, exponential
# profile n_c = 5000 * 100^(-c/9) (imbalance ratio 100; 12,406 images).
_base_ = './cifar10_folder_mv.py'
train_dataloader = dict(dataset=dict(
    _delete_=True, type='LongTailDataset', imbalance_ratio=100,
    dataset={{_base_.train_dataloader.dataset}}))
