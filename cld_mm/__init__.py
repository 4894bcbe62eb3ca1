"""cld_mm: CLD and SMoG self-supervised learning for mmengine / mmpretrain.

Importing the package applies the stack's compatibility fixes
(:mod:`cld_mm.compat`) and registers every cld_mm module into mmpretrain's
registries.
"""
from . import (  # noqa: F401,E402
    compat,  # noqa: F401  (first: fixes must precede stack use)
    datasets,
    engine,
    evaluation,
    models,
)
from .version import __version__

__all__ = ['__version__']
