from . import fileio, hooks  # noqa: F401
from .fileio import AtomicLocalBackend
from .optim_wrapper import NaNGuardOptimWrapper

__all__ = ['AtomicLocalBackend', 'NaNGuardOptimWrapper']
