"""mmengine's package helpers on ``importlib.metadata`` (see
:func:`package_utils_without_pkg_resources`; applied by :mod:`cld_mm.compat`).
"""
import importlib.metadata
import importlib.util
import os.path as osp
import sys

_APPLIED = set()


def _onedl_stack() -> bool:
    """Whether mmcv and mmpretrain come from the onedl fork."""
    for dist in ('onedl-mmcv', 'onedl-mmpretrain'):
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            return False
    return True


def _distribution(package: str):
    """The distribution named ``package``, else the onedl fork's
    ``onedl-<package>`` (the same modules under another distribution name:
    ``mmsegmentation`` is ``onedl-mmsegmentation`` there)."""
    try:
        return importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        try:
            return importlib.metadata.distribution('onedl-' + package)
        except importlib.metadata.PackageNotFoundError:
            raise importlib.metadata.PackageNotFoundError(package) from None


def is_installed(package: str) -> bool:
    """Whether ``package`` is an installed distribution or importable module.

    mmengine 0.10.7's semantics: a distribution name first (or its onedl
    name), else a module with a file (a namespace package does not count).
    """
    try:
        _distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def package2module(package: str) -> str:
    """The top-level module of an installed distribution (``top_level.txt``)."""
    dist = _distribution(package)
    top_level = (dist.read_text('top_level.txt') or '').split()
    if not top_level:
        raise ValueError(f'can not infer the module name of {package}')
    return top_level[0]


def get_installed_path(package: str) -> str:
    """The folder of an installed package (distribution or module name)."""
    try:
        dist = _distribution(package)
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise
        if spec.origin is None:
            raise RuntimeError(f'{package} is a namespace package, which is '
                               'invalid for `get_install_path`')
        return osp.dirname(spec.origin)
    location = str(dist.locate_file(''))
    if osp.exists(osp.join(location, package)):
        return osp.join(location, package)
    module = package2module(package)
    spec = importlib.util.find_spec(module)
    if not osp.exists(osp.join(location, module)) and spec is not None \
            and spec.origin is not None:  # an editable install
        return osp.dirname(spec.origin)
    return osp.join(location, module)


_PACKAGE_UTILS = {'is_installed': is_installed,
                  'get_installed_path': get_installed_path,
                  'package2module': package2module}


def package_utils_without_pkg_resources() -> bool:
    """Replace mmengine's package helpers, everywhere.

    Where they use ``pkg_resources`` (mmengine 0.10.7), and on the onedl
    stack, whose ``importlib.metadata`` helpers look for the distribution
    ``mmsegmentation`` (named ``onedl-mmsegmentation`` there), so every
    ``mmseg::`` config base fails with "mmsegmentation is not installed".
    Every module that imported them by name (``mmengine.utils``,
    ``mmengine.config.config``, ``mmengine.hub``) gets the replacement;
    later ``from mmengine.utils import ...`` see it too. Returns whether
    anything was replaced.
    """
    if 'package_utils' in _APPLIED:
        return True
    from mmengine.utils import package_utils
    originals = {name: getattr(package_utils, name, None)
                 for name in _PACKAGE_UTILS}
    if not _onedl_stack() and not any(
            fn is not None and 'pkg_resources' in fn.__code__.co_names
            for fn in originals.values()):
        return False
    for mod in list(sys.modules.values()):
        if mod is None or not getattr(mod, '__name__', '').startswith('mm'):
            continue
        for name, orig in originals.items():
            if orig is not None and getattr(mod, name, None) is orig:
                setattr(mod, name, _PACKAGE_UTILS[name])
    _APPLIED.add('package_utils')
    return True
