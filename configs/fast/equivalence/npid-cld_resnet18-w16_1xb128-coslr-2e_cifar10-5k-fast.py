# Fast-path equivalence measurement (docs/fast_path.md), fast data path: the
# run of ./npid-cld_resnet18-w16_1xb128-coslr-2e_cifar10-5k.py with the
# images decoded once into memory (InMemoryImages) and its view pipeline
# drawn per sample on the model's device (DeviceMultiViewPreprocessor).
_base_ = './npid-cld_resnet18-w16_1xb128-coslr-2e_cifar10-5k.py'
model = dict(data_preprocessor=dict(
    type='DeviceMultiViewPreprocessor',
    view_pipeline={{_base_.view_pipeline}},
    num_views={{_base_.num_views}}))
train_dataloader = dict(
    num_workers=2,
    dataset=dict(_delete_=True, type='InMemoryImages',
                 dataset={{_base_.train_dataloader.dataset}}))
