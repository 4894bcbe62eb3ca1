# MoCo v1, CIFAR-100, fast data path (docs/fast_path.md): the recipe in
# _base_ with the images decoded once into memory (InMemoryImages) and
# its own view pipeline drawn per sample on the model's device
# (DeviceMultiViewPreprocessor); model, schedule, evaluation inherited.
_base_ = '../moco/moco_resnet18_1xb128-coslr-200e_cifar100.py'
model = dict(data_preprocessor=dict(
    type='DeviceMultiViewPreprocessor',
    view_pipeline={{_base_.view_pipeline}},
    num_views={{_base_.num_views}}))
train_dataloader = dict(
    num_workers=2,
    dataset=dict(_delete_=True, type='InMemoryImages',
                 dataset={{_base_.train_dataloader.dataset}}))
