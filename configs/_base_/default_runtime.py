# Runtime shared by every cld_mm config: mmpretrain's defaults + cld_mm import.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
# gloo on CPU-only machines; tools/dist_train.sh passes --launcher pytorch.
env_cfg = dict(dist_cfg=dict(backend='nccl'))
log_processor = dict(window_size=10)
