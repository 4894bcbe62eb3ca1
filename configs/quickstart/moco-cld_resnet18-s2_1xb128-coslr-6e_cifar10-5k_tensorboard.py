# The quickstart with TensorBoard event files beside mmengine's JSON log
# (WORK_DIR/<timestamp>/vis_data/events.out.tfevents.*):
#   tensorboard --logdir work_dirs
# Any config switches the same way: ../_base_/tensorboard.py.
_base_ = ['./moco-cld_resnet18-s2_1xb128-coslr-6e_cifar10-5k.py',
          '../_base_/tensorboard.py']
visualizer = dict(vis_backends={{_base_.tensorboard_vis_backends}})
