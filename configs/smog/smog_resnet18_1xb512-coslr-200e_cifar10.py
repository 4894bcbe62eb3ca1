# SMoG, CIFAR-10, ResNet-18, batch 512 (97 iterations per epoch), 200 epochs,
# SGD 0.06 x bs/256 with 5 warm-up epochs and cosine decay, kNN (k=200,
# backbone features) every 5 epochs.
_base_ = [
    '../_base_/models/smog_resnet18_cifar.py',
    '../_base_/datasets/cifar10_folder_mv.py',
    '../_base_/schedules/sgd_coslr-200e_cifar.py',
    '../_base_/default_runtime.py',
]
batch_size = 512
model = dict(data_preprocessor={{_base_.data_preprocessor}})
train_dataloader = dict(batch_size=batch_size)
optim_wrapper = dict(optimizer=dict(lr=0.06 * batch_size / 256,
                                    weight_decay=5e-4))
auto_scale_lr = dict(base_batch_size=batch_size)
