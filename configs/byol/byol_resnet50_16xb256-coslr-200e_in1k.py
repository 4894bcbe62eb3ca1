# mmpretrain's BYOL recipe (ImageNet, 16x256, LARS 4.8, 200 epochs) with the
# kNN predict mode: baseline of cld/byol-cld_resnet50_16xb256-coslr-200e_in1k.py.
_base_ = 'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py'
custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)
model = dict(type='EvalBYOL')
