"""cld_mm registers into mmpretrain's registries without shadowing a name."""
import importlib
import inspect
import pkgutil

import pytest
from mmpretrain import registry as mmp_registry

import cld_mm

REGISTRIES = ('MODELS', 'HOOKS', 'DATASETS', 'METRICS', 'TRANSFORMS',
              'OPTIM_WRAPPERS')


def cld_mm_registrations():
    """(registry name, registered name, class) for every cld_mm module."""
    for mod in pkgutil.walk_packages(cld_mm.__path__, 'cld_mm.'):
        importlib.import_module(mod.name)
    out = []
    for reg_name in REGISTRIES:
        reg = getattr(mmp_registry, reg_name)
        for name, obj in reg.module_dict.items():
            module = getattr(obj, '__module__', '')
            if module.startswith('cld_mm.'):
                out.append((reg_name, name, obj))
    return out


def test_cld_mm_names_registered():
    names = {(r, n) for r, n, _ in cld_mm_registrations()}
    for expected in [('MODELS', 'NPID'), ('MODELS', 'CLDHead'),
                     ('METRICS', 'KNNAccuracy'),
                     ('DATASETS', 'KNNDataset'),
                     ('HOOKS', 'BankSizeCheckHook')]:
        assert expected in names


def test_no_collision_with_mmpretrain_or_mmengine_names():
    """Import every mmpretrain module, then check each cld_mm name is ours
    alone: not defined by mmpretrain in the same registry, nor by mmengine's
    parent registry (which mmpretrain registries fall back to)."""
    import mmpretrain.datasets  # noqa: F401
    import mmpretrain.engine  # noqa: F401
    import mmpretrain.evaluation  # noqa: F401
    import mmpretrain.models  # noqa: F401
    clashes = []
    for reg_name, name, obj in cld_mm_registrations():
        reg = getattr(mmp_registry, reg_name)
        parent = reg.parent
        if parent is not None and name in parent.module_dict:
            clashes.append(f'{reg_name}.{name} (mmengine)')
        # a name registered by mmpretrain itself would have been overwritten
        # (force=True) or raised (force=False): look for its definition
        for mod in ('mmpretrain.models', 'mmpretrain.engine',
                    'mmpretrain.datasets', 'mmpretrain.evaluation'):
            m = importlib.import_module(mod)
            other = getattr(m, name, None)
            if inspect.isclass(other) and other is not obj:
                clashes.append(f'{reg_name}.{name} ({mod})')
    assert not clashes, f'cld_mm names collide: {clashes}'


def test_unknown_type_error_names_it():
    from mmpretrain.registry import MODELS
    with pytest.raises(KeyError, match='NotAnAlgorithm is not in the'):
        MODELS.build(dict(type='NotAnAlgorithm'))
