# MoCo v1, CIFAR-100 (baseline of cld/moco-cld_..._cifar100.py): bs 128,
# lr 0.03, queue 4096, wd 7e-4, T=0.07.
_base_ = [
    '../_base_/models/moco_resnet18_cifar.py',
    '../_base_/datasets/cifar100_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
model = dict(data_preprocessor={{_base_.data_preprocessor}}, queue_len=4096)
train_dataloader = dict(batch_size=128)
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=7e-4))
auto_scale_lr = dict(base_batch_size=128)
val_evaluator = dict(temperature=0.07)
test_evaluator = val_evaluator
