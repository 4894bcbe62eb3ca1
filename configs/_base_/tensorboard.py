# TensorBoard logging beside mmengine's local JSON log (scalars.json, which
# tools/analysis/plot_knn_curves.py and repro_table.py read). Event files
# land in WORK_DIR/<timestamp>/vis_data/; view them with
#   tensorboard --logdir work_dirs
#
# Switch it on in a config (mmengine refuses a key defined by two bases,
# so the recipe is the base and the backends are taken from this file):
#   _base_ = ['../cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py',
#             '../_base_/tensorboard.py']
#   visualizer = dict(vis_backends={{_base_.tensorboard_vis_backends}})
# (configs/quickstart/*_tensorboard.py is such a config), or for one run,
# TensorBoard instead of the JSON log:
#   python tools/train.py CONFIG \
#       --cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend
tensorboard_vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
]
