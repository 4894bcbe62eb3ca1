# NPID+CLD, CIFAR-10 (the authors' recipe): bs 256, lr 0.06 (0.03 per 128), 5 warm-up
# epochs then cosine, wd 7e-4, 200 epochs; NPID T=0.1, bank momentum 0.5;
# CLD K=128, T_G=0.2, lambda=1.0.
_base_ = [
    '../_base_/models/npid_cld_resnet18_cifar.py',
    '../_base_/datasets/cifar10_folder_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}})
optim_wrapper = dict(optimizer=dict(weight_decay=7e-4))
