# Runtime shared by every cld_mm config: mmpretrain's defaults + cld_mm import.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['cld_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3,
                    backend_args=dict(backend='atomic_local')),
    # reliability (docs/reliability.md): data and checkpoint checks, RNG
    # states in checkpoints for exact resume, NaN/Inf loss policy
    # ('skip' also needs optim_wrapper type='NaNGuardOptimWrapper').
    train_data_check=dict(type='TrainDataCheckHook'),
    checkpoint_check=dict(type='CheckpointCheckHook'),
    rng_state=dict(type='RNGStateHook'),
    # a resumed run validates its checkpoint's epoch if that was missed
    resume_validation=dict(type='ResumeValidationHook'),
    nonfinite_loss=dict(type='NonFiniteLossHook', policy='stop'))
# gloo on CPU-only machines; tools/dist_train.sh passes --launcher pytorch.
env_cfg = dict(dist_cfg=dict(backend='nccl'))
log_processor = dict(window_size=10)
# TensorBoard event files beside the JSON log: configs/_base_/tensorboard.py
# each rank draws its own augmentations (mmengine's default syncs the seed,
# so every rank would crop its different images identically)
randomness = dict(seed=None, diff_rank_seed=True, deterministic=False)
