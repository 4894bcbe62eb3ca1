from . import fileio, hooks  # noqa: F401
from .fileio import AtomicLocalBackend
from .optim_wrapper import NaNGuardOptimWrapper
from .step_options import (
    ChannelsLastHook,
    MixedPrecisionOptimWrapper,
    apply_step_options,
)

__all__ = ['AtomicLocalBackend', 'NaNGuardOptimWrapper', 'ChannelsLastHook',
           'MixedPrecisionOptimWrapper', 'apply_step_options']
