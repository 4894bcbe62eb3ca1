"""Compatibility fixes for the OpenMMLab stack on current torch, applied on import.

Every fix the stack needs lives here, each in one function that is idempotent
and tested (``tests/test_compat.py``):

* :func:`allow_mmengine_checkpoint_globals` - torch>=2.6 loads with
  ``weights_only=True`` by default, and mmengine's checkpoints hold a few
  non-tensor objects (``HistoryBuffer`` in the message hub, numpy arrays and
  scalars in the runtime info). Without this, ``runner.resume`` and
  ``load_checkpoint`` fail with ``UnpicklingError: Weights only load failed``.
  We allow-list exactly those classes, keeping torch's protection for
  everything else (``weights_only`` stays on).
* :func:`check_torchvision` - the registry's torchvision 0.28.0 is a CUDA
  build; on a CPU torch it needs ``tools/install/fix_torchvision_cpu.py`` (run
  by the install script). This turns the obscure failure into a clear error.

numpy 2 (``mmcv.adjust_hue`` overflow, ``np.in1d``) and setuptools>=81 (no
``pkg_resources`` for ``mmdet::`` config bases) are avoided by the pins in
``requirements/constraints.txt``; :func:`check_pins` reports a violated pin.
"""
import warnings

import numpy as np
import torch

_APPLIED = set()


def mmengine_checkpoint_globals() -> list:
    """The non-tensor classes and functions that mmengine checkpoints pickle."""
    import builtins

    from mmengine.logging import HistoryBuffer
    multiarray = np.core.multiarray
    # HistoryBuffer pickles its statistics methods as getattr(cls, 'mean'):
    # getattr only reads an attribute; torch's unpickler still refuses to
    # call anything that is not itself allow-listed.
    safe = [HistoryBuffer, builtins.getattr, multiarray._reconstruct,
            multiarray.scalar, np.ndarray, np.dtype]
    # numpy>=1.25 pickles dtypes through their classes (np.dtypes.Float64DType).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return safe


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list mmengine checkpoint contents for ``torch.load(weights_only)``."""
    if 'safe_globals' in _APPLIED:
        return
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch>=2.4; older torch loads with weights_only=False
        add(mmengine_checkpoint_globals())
    _APPLIED.add('safe_globals')


def check_torchvision() -> None:
    """Raise a clear ImportError when torchvision's compiled ops cannot load."""
    try:
        import torchvision  # noqa: F401
        from torchvision.ops import nms  # noqa: F401
    except (RuntimeError, OSError, ImportError) as exc:
        raise ImportError(
            'torchvision failed to load its compiled ops '
            f'({type(exc).__name__}: {exc}). The registry torchvision 0.28.0 '
            'is a CUDA build; on a CPU-only torch run '
            '`python tools/install/fix_torchvision_cpu.py` (the install script '
            'does this).') from exc


def check_pins() -> None:
    """Warn when a version pin that stands in for a fix is violated."""
    if int(np.__version__.split('.')[0]) >= 2:
        warnings.warn(f'numpy {np.__version__} breaks mmcv colour jitter and '
                      'mmpretrain metrics; install numpy<2 (see '
                      'requirements/constraints.txt).')


def apply_all() -> None:
    """Apply every fix. Called once when :mod:`cld_mm` is imported."""
    check_pins()
    check_torchvision()
    allow_mmengine_checkpoint_globals()


apply_all()
