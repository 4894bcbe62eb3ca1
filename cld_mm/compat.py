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
* :func:`keep_global_allow_list` - onedl-mmengine loads each checkpoint
  inside ``torch.serialization.safe_globals(its list)``, and torch removes
  every listed global from the process-wide allow-list when that block
  ends, including the ones allowed above: the next ``weights_only`` load
  outside mmengine's loader (a resume, a tool) then fails with
  ``UnpicklingError: ... HistoryBuffer``. Its list is narrowed to what is
  not allowed yet. Nothing to do on upstream mmengine 0.10.7.
* :func:`check_torchvision` - the registry's torchvision 0.28.0 is a CUDA
  build; on a CPU torch it needs ``tools/install/fix_torchvision_cpu.py`` (run
  by the install script). This turns the obscure failure into a clear error.

* :func:`package_utils_without_pkg_resources` (in
  :mod:`cld_mm.package_utils`) - mmengine 0.10.7's
  ``mmengine.utils.package_utils`` (``is_installed``, ``get_installed_path``,
  ``package2module``, used for every ``'pkg::'`` config base) imports
  ``pkg_resources``, which prints "pkg_resources is deprecated" on every
  command and is gone in setuptools>=81. They are replaced by
  ``importlib.metadata`` equivalents (what mmengine's maintained fork does),
  which also find the onedl fork's distributions (``onedl-mmsegmentation``
  for ``mmseg::`` config bases; the fork's own helpers do not).
* :func:`file_client_only_when_used` - mmengine's checkpoint and logger
  hooks build a ``FileClient`` they never use, which logs two deprecation
  WARNING lines on every training run; it is now built only when used.
* :func:`mmcv_without_ops_quietly` - mmcv without compiled ops (the lite
  install) warns on import that it lacks ``MultiScaleDeformableAttention``,
  which nothing in cld_mm uses.
* :func:`load_config` - ``Config.fromfile`` with a clear error when a
  detection / segmentation config meets the lite install
  (``tools/install/install.sh --lite``: no mmdet, mmseg or mmcv ops).

numpy 2 (``mmcv.adjust_hue`` overflow, ``np.in1d``) is avoided by the pin in
``requirements/constraints.txt`` (the default stack); :func:`check_pins`
reports a violated pin. setuptools<81 stays pinned there only because
mmcv 2.1.0's ``setup.py`` needs ``pkg_resources`` to build its ops.
"""
import importlib
import importlib.metadata
import importlib.util
import re
import sys
import warnings

import numpy as np
import torch

from .package_utils import (  # noqa: F401  (the package helpers' home)
    _onedl_stack,
    get_installed_path,
    is_installed,
    package2module,
    package_utils_without_pkg_resources,
)

_APPLIED = set()


def mmengine_checkpoint_globals() -> list:
    """The non-tensor classes and functions that mmengine checkpoints pickle."""
    import builtins

    from mmengine.logging import HistoryBuffer
    # numpy 2 renamed numpy.core to numpy._core (the old name warns)
    multiarray = importlib.import_module(
        'numpy._core.multiarray' if int(np.__version__.split('.')[0]) >= 2
        else 'numpy.core.multiarray')
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


def keep_global_allow_list() -> bool:
    """Stop onedl-mmengine's loader from shrinking the global allow-list.

    Returns whether mmengine's ``get_torch_safe_globals`` was narrowed.
    """
    if 'keep_allow_list' in _APPLIED:
        return False
    try:
        from mmengine.runner import checkpoint
    except ImportError:
        return False
    listed = getattr(checkpoint, 'get_torch_safe_globals', None)
    get_allowed = getattr(torch.serialization, 'get_safe_globals', None)
    if listed is None or get_allowed is None:
        return False

    def not_allowed_yet() -> list:
        allowed = set(get_allowed())
        return [g for g in listed() if g not in allowed]

    checkpoint.get_torch_safe_globals = not_allowed_yet
    _APPLIED.add('keep_allow_list')
    return True


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
    """Warn when a version pin that stands in for a fix is violated.

    numpy<2 is needed by mmcv 2.1.0 / mmpretrain 1.2.0 (the default stack);
    the onedl fork (``onedl-mmcv``, ``onedl-mmpretrain``) runs on numpy 2.
    """
    if int(np.__version__.split('.')[0]) < 2 or _onedl_stack():
        return
    warnings.warn(f'numpy {np.__version__} breaks mmcv 2.1.0 colour jitter '
                  'and mmpretrain 1.2.0 metrics; install numpy<2 (see '
                  'requirements/constraints.txt) or the onedl stack '
                  '(tools/install/install.sh --stack onedl).')


# --- detection / segmentation configs on the lite install --------------------

DOWNSTREAM = {'mmdet': 'detection', 'mmseg': 'segmentation'}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def full_install_error(lib: str, missing: list) -> ImportError:
    """The error for a detection / segmentation config without its stack."""
    return ImportError(
        f'this is a {DOWNSTREAM[lib]} config ({lib}), which needs the full '
        f'install: {", ".join(missing)} not installed (the lite install, '
        '`tools/install/install.sh --lite`, leaves out mmdet, mmsegmentation '
        "and mmcv's compiled ops). Run `bash tools/install/install.sh` "
        '(compiles mmcv once, about 10 min on 2 cores).')


def check_downstream_stack(cfg) -> None:
    """Raise :func:`full_install_error` when ``cfg``'s scope lacks its stack."""
    lib = cfg.get('default_scope')
    if lib not in DOWNSTREAM:
        return
    missing = [m for m in (lib, 'mmcv._ext') if not _importable(m)]
    if missing:
        raise full_install_error(lib, missing)


def load_config(path: str):
    """``Config.fromfile`` that names the full install when a detection /
    segmentation config (``mmdet::`` / ``mmseg::`` bases or scope) cannot be
    used here."""
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(path)
    except ModuleNotFoundError as exc:
        for lib in DOWNSTREAM:
            if re.search(rf'\b{lib}\b', str(exc)) and not _importable(lib):
                raise full_install_error(lib, [lib]) from exc
        raise
    check_downstream_stack(cfg)
    return cfg


class _FileClientWhenAsked:
    """mmengine's ``FileClient`` as seen by the modules that build one unused.

    ``CheckpointHook.before_train``, ``LoggerHook`` (with ``out_dir``) and
    ``save_checkpoint`` call ``FileClient.infer_client(file_client_args, uri)``
    even when ``file_client_args`` is None, keep the object "for backward
    compatibility" and never use it; building it logs two WARNING lines
    ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias of
    "LocalBackend"') on every training run. Here it is built only when
    ``file_client_args`` are given, i.e. when it is used.
    """

    def __init__(self, file_client):
        self._file_client = file_client

    def infer_client(self, file_client_args=None, uri=None):
        if file_client_args is None:
            return None
        return self._file_client.infer_client(file_client_args, uri)

    def __call__(self, *args, **kwargs):
        return self._file_client(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._file_client, name)


FILE_CLIENT_USERS = ('mmengine.hooks.checkpoint_hook',
                     'mmengine.hooks.logger_hook', 'mmengine.runner.checkpoint')


def file_client_only_when_used() -> None:
    """No unused ``FileClient`` (and its two warnings) in mmengine's hooks."""
    if 'file_client' in _APPLIED:
        return
    from mmengine.fileio import FileClient
    for name in FILE_CLIENT_USERS:
        mod = importlib.import_module(name)
        if getattr(mod, 'FileClient', None) is FileClient:
            mod.FileClient = _FileClientWhenAsked(FileClient)
    _APPLIED.add('file_client')


def mmcv_without_ops_quietly() -> bool:
    """Import mmcv's transformer bricks once without mmcv-lite's notice.

    Without compiled ops (the lite install), ``mmcv.cnn.bricks.transformer``
    (imported by mmpretrain) tries a backward-compatible import of
    ``MultiScaleDeformableAttention`` from ``mmcv.ops`` and warns "You should
    install mmcv rather than mmcv-lite if you need this module" on every
    command. cld_mm never needs that op, and a detection / segmentation
    config says what to install (:func:`load_config`), so this one message,
    and only during this one import, is not shown. Returns whether mmcv has no
    ops.
    """
    if 'mmcv_lite' in _APPLIED:
        return True
    if not _importable('mmcv') or _importable('mmcv._ext') \
            or 'mmcv.cnn.bricks.transformer' in sys.modules:
        return False
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore', message='Fail to import ``MultiScaleDeformableAttention',
            category=UserWarning)
        importlib.import_module('mmcv.cnn.bricks.transformer')
    _APPLIED.add('mmcv_lite')
    return True


def apply_all() -> None:
    """Apply every fix. Called once when :mod:`cld_mm` is imported."""
    package_utils_without_pkg_resources()
    file_client_only_when_used()
    mmcv_without_ops_quietly()
    check_pins()
    check_torchvision()
    allow_mmengine_checkpoint_globals()
    keep_global_allow_list()


apply_all()
