"""Which wheels of a wheelhouse this Python still needs (stdlib only).

    python benchmarks/wheel_plan.py WHEELHOUSE

Prints the path of every ``*.whl`` in WHEELHOUSE whose distribution is not
installed in the running interpreter, one per line; when a distribution has
several wheels (one per Python version), the one whose tags this
interpreter accepts. Installed packages (the machine's own torch, numpy,
opencv, or the onedl fork of the OpenMMLab packages) are never replaced.
"""
import glob
import os.path as osp
import re
import sys
from importlib import metadata


def dist_name(wheel: str) -> str:
    """Normalized distribution name of a wheel file (PEP 503)."""
    return re.sub(r'[-_.]+', '-', osp.basename(wheel).split('-')[0]).lower()


def compatible(wheel: str) -> bool:
    """Whether this interpreter can install ``wheel`` (python/abi tags)."""
    parts = osp.basename(wheel)[:-4].split('-')
    py_tags, abi = parts[-3].split('.'), parts[-2]
    here = f'cp{sys.version_info[0]}{sys.version_info[1]}'
    if abi == 'none' or abi == 'abi3':
        return any(t in ('py3', 'py2.py3', here) or t.startswith('py3')
                   or (abi == 'abi3' and t.startswith('cp3')
                       and int(t[3:] or 0) <= sys.version_info[1])
                   for t in py_tags)
    return here in py_tags


# the onedl fork ships the same modules under other distribution names: an
# environment holding it must not get the upstream package beside it
FORK_NAMES = {'mmdet': 'onedl-mmdetection'}


def installed(name: str) -> bool:
    """``name`` or the onedl fork's distribution of it is installed."""
    for dist in (name, FORK_NAMES.get(name, 'onedl-' + name)):
        try:
            metadata.version(dist)
            return True
        except metadata.PackageNotFoundError:
            pass
    return False


def plan(wheelhouse: str) -> list:
    """Wheels to install: not installed here, and installable here."""
    chosen = {}
    for wheel in sorted(glob.glob(osp.join(wheelhouse, '*.whl'))):
        name = dist_name(wheel)
        if not installed(name) and compatible(wheel):
            chosen.setdefault(name, wheel)
    return sorted(chosen.values())


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print('\n'.join(plan(sys.argv[1])))
