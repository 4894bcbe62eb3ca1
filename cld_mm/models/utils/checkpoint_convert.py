"""Backbone checkpoints for transfer: key mapping and a strict initializer.

Pure functions map state dicts (tensors in, tensors out):

* :func:`extract_backbone` - a self-supervised checkpoint's state dict to the
  backbone's own keys (``backbone.layer1.0.conv1.weight`` ->
  ``layer1.0.conv1.weight``); momentum encoders, necks, heads, memory banks,
  queues and group tables are dropped.
* :func:`to_torchvision_resnet` - mmpretrain / mmdet / mmseg ResNet keys to
  torchvision's ``resnet18/34/50/101/152`` names (validated one by one).
* :func:`assign_to_targets` - which backbone keys go to which sub-module of a
  downstream model (a C4 detector holds res5 in ``roi_head.shared_head``).

:class:`PretrainedBackbone` wraps them as an mmengine weight initializer, set
once at the model level (``model.init_cfg``) of every downstream config.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.registry import WEIGHT_INITIALIZERS

StateDict = Mapping[str, torch.Tensor]

# torchvision ResNet names: stem conv1/bn1, blocks conv{1,2,3}/bn{1,2,3},
# projection shortcut downsample.0 (conv) / downsample.1 (bn).
_TV_STEM = re.compile(r'^(conv1|bn1)\.(weight|bias|running_mean|running_var|'
                      r'num_batches_tracked)$')
_TV_BLOCK = re.compile(r'^layer[1-4]\.\d+\.(conv[1-3]|bn[1-3]|downsample\.[01])'
                       r'\.(weight|bias|running_mean|running_var|'
                       r'num_batches_tracked)$')
# mmcv's norm naming for GroupNorm / SyncBN variants -> torchvision's bn.
_MM_NORM = re.compile(r'(^|\.)(gn|norm)([1-3])\.')


def unwrap_state_dict(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """The state dict of a checkpoint, without a DDP ``module.`` prefix.

    Args:
        checkpoint (Mapping): a loaded checkpoint, either mmengine-style
            (``{'state_dict': ..., 'meta': ...}``) or a bare state dict.

    Returns:
        dict: ``{key: tensor}``.
    """
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, Mapping):
        raise ValueError(f'checkpoint state_dict is a {type(state).__name__}, '
                         'expected a mapping of tensors')
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state.items() if isinstance(v, torch.Tensor))


def extract_backbone(state_dict: StateDict,
                     prefix: str = 'backbone.') -> Dict[str, torch.Tensor]:
    """Keep the online backbone's tensors, named as the backbone names them.

    Only keys starting with ``prefix`` are kept (so ``momentum_encoder.*``,
    ``target_net.*``, ``neck.*``, ``head.*``, ``memory_bank``, ``queue``,
    ``groups`` ... are dropped), and the prefix is removed.

    Args:
        state_dict (Mapping[str, Tensor]): a self-supervised model's state.
        prefix (str): the backbone's attribute path. Defaults to 'backbone.'.

    Returns:
        dict: backbone state dict, same tensor objects, original order.

    Raises:
        KeyError: no key starts with ``prefix``.
    """
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                      if k.startswith(prefix))
    if not out:
        tops = sorted({k.split('.')[0] for k in state_dict})
        raise KeyError(f'no backbone keys found: nothing starts with '
                       f'{prefix!r}; top-level names are {tops[:10]}')
    return out


def to_torchvision_resnet(backbone: StateDict) -> Dict[str, torch.Tensor]:
    """Rename an mm ResNet backbone state dict to torchvision's names.

    mmpretrain/mmdet/mmseg ``ResNet`` (style pytorch or caffe, no deep stem)
    already uses torchvision's names with BatchNorm; ``gnN``/``normN`` norm
    names are mapped to ``bnN``. Every key is validated: a deep stem
    (``stem.*``, ResNetV1c/d), a CIFAR head or a leftover neck raises.

    Args:
        backbone (Mapping[str, Tensor]): output of :func:`extract_backbone`.

    Returns:
        dict: state dict for ``torchvision.models.resnetXX`` without ``fc``
        (load with ``strict=True`` after ``model.fc = nn.Identity()``).

    Raises:
        KeyError: a key with no torchvision equivalent.
        ValueError: a stem other than torchvision's 7x7 conv (CIFAR ResNet).
    """
    stem = backbone.get('conv1.weight')
    if stem is not None and tuple(stem.shape[-2:]) != (7, 7):
        raise ValueError(f'conv1 is {stem.shape[-2]}x{stem.shape[-1]} (a '
                         'CIFAR-style stem); torchvision ResNets have a 7x7 '
                         'stem')
    out = OrderedDict()
    for key, value in backbone.items():
        name = _MM_NORM.sub(lambda m: f'{m.group(1)}bn{m.group(3)}.', key)
        if not (_TV_STEM.match(name) or _TV_BLOCK.match(name)):
            hint = (' (deep stem: ResNetV1c/V1d have no torchvision '
                    'equivalent)' if key.startswith('stem.') else '')
            raise KeyError(f'{key!r} has no torchvision ResNet name{hint}')
        out[name] = value
    return out


def assign_to_targets(
    state_dict: StateDict, targets: Mapping[str, Iterable[str]]
) -> Tuple[Dict[str, Dict[str, torch.Tensor]], List[str], Dict[str, List[str]]]:
    """Split backbone keys over the sub-modules that hold them.

    A target key is *required* when its first component (``conv1``,
    ``layer4`` ...) occurs in ``state_dict``: an extra norm after res5 in a
    C4 head (``norm.*``) is new, ``layer4.0.conv3.weight`` is not.

    Args:
        state_dict (Mapping[str, Tensor]): backbone keys (no prefix).
        targets (Mapping[str, Iterable[str]]): sub-module name -> its own
            state-dict keys, e.g. ``{'backbone': [...],
            'roi_head.shared_head': [...]}``.

    Returns:
        tuple: ``(assigned, unexpected, missing)`` - ``{target: {key:
        tensor}}``, checkpoint keys no target holds, and ``{target:
        [required keys the checkpoint lacks]}``.
    """
    key_sets = {name: set(keys) for name, keys in targets.items()}
    assigned = {name: OrderedDict() for name in targets}
    unexpected = []
    for key, value in state_dict.items():
        owners = [n for n, keys in key_sets.items() if key in keys]
        if not owners:
            unexpected.append(key)
        for name in owners:
            assigned[name][key] = value
    provided = {k.split('.')[0] for k in state_dict}
    missing = {
        name: sorted(k for k in keys if k.split('.')[0] in provided
                     and k not in state_dict)
        for name, keys in key_sets.items()
    }
    return assigned, unexpected, missing


def _submodule(module: torch.nn.Module, path: str):
    for part in path.split('.'):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


@WEIGHT_INITIALIZERS.register_module(name='PretrainedBackbone')
class PretrainedBackbone:
    """Load a backbone checkpoint into a downstream model, strictly.

    Set at the model level, ``model.init_cfg=dict(type='PretrainedBackbone',
    checkpoint=PATH)``: the one place a downstream config names the
    pre-trained weights. ``PATH`` is a ``tools/model_converters/
    extract_backbone.py`` output (bare backbone keys) or a raw cld_mm /
    mmpretrain self-supervised checkpoint (``backbone.*`` keys, extracted on
    the fly). Weights go to ``model.backbone`` and, in C4 detectors, res5 to
    ``model.roi_head.shared_head``. Any checkpoint key no target holds, any
    required target key the checkpoint lacks, or a shape mismatch raises.
    The loaded sub-modules are marked initialized (mmengine's ``is_init``)
    so their default ``init_cfg`` does not overwrite the weights.

    Args:
        checkpoint (str): path (or mmengine URI) of the checkpoint.
        targets (Sequence[str]): sub-module paths that may receive weights;
            absent ones are skipped. Defaults to ('backbone',
            'roi_head.shared_head').
        map_location (str): Defaults to 'cpu'.
    """

    def __init__(self, checkpoint: str,
                 targets: Sequence[str] = ('backbone', 'roi_head.shared_head'),
                 map_location: str = 'cpu'):
        if not checkpoint:
            raise ValueError('PretrainedBackbone needs a checkpoint: set '
                             '--cfg-options model.init_cfg.checkpoint=PATH')
        self.checkpoint = checkpoint
        self.targets = tuple(targets)
        self.map_location = map_location

    def load_state(self) -> Dict[str, torch.Tensor]:
        """The checkpoint's backbone state dict (bare keys)."""
        from mmengine.runner.checkpoint import _load_checkpoint
        if '://' not in self.checkpoint and not osp.isfile(self.checkpoint):
            raise FileNotFoundError(
                f'pre-trained checkpoint not found: {self.checkpoint}')
        state = unwrap_state_dict(
            _load_checkpoint(self.checkpoint, map_location=self.map_location))
        if any(k.startswith('backbone.') for k in state):
            state = extract_backbone(state)
        return state

    def __call__(self, module: torch.nn.Module) -> None:
        state = self.load_state()
        subs = {p: _submodule(module, p) for p in self.targets}
        subs = {p: m for p, m in subs.items() if m is not None}
        if not subs:
            raise KeyError(f'{type(module).__name__} has none of the target '
                           f'sub-modules {self.targets}')
        assigned, unexpected, missing = assign_to_targets(
            state, {p: m.state_dict().keys() for p, m in subs.items()})
        problems = [f'unexpected keys {unexpected[:5]}'] if unexpected else []
        problems += [f'{p} missing keys {ks[:5]}' for p, ks in missing.items()
                     if ks]
        problems += [f'{p} receives no weights' for p, sd in assigned.items()
                     if not sd]
        if problems:
            raise KeyError(f'checkpoint {self.checkpoint} does not fit '
                           f'{type(module).__name__}: ' + '; '.join(problems))
        for path, sub in subs.items():
            sub.load_state_dict(assigned[path], strict=False)
            sub._is_init = True
            print_log(f'{path}: {len(assigned[path])} tensors loaded from '
                      f'{self.checkpoint}', logger='current')


# Renames of model state-dict keys between cld_mm layouts, oldest first:
# (old prefix, new prefix). The CLD group branch was ``cld.group_neck`` (a
# ``CrossLevelDiscrimination`` module configured by ``cld=dict(...)``); it is
# the algorithm's ``group_neck`` beside the parameter-free ``cld_head``.
KEY_RENAMES = (('cld.group_neck.', 'group_neck.'), )


def upgrade_state_dict(state_dict: StateDict,
                       prefix: str = '') -> Dict[str, torch.Tensor]:
    """Rename the keys of an earlier cld_mm layout to the current one.

    Keys under ``prefix`` that start with an old name of
    :data:`KEY_RENAMES` get the new name (``cld.group_neck.fc.weight`` ->
    ``group_neck.fc.weight``); every other key is kept as is. A state dict
    of the current layout comes back unchanged.

    Args:
        state_dict (Mapping[str, Tensor]): a model state dict (no DDP
            ``module.`` prefix, see :func:`unwrap_state_dict`).
        prefix (str): the model's own prefix inside ``state_dict``.
            Defaults to ''.

    Returns:
        dict: the state dict with current key names, same tensors, same
        order.

    Raises:
        KeyError: an old key and its new name are both present.

    Examples:
        >>> w = torch.zeros(2)
        >>> list(upgrade_state_dict({'cld.group_neck.fc.bias': w}))
        ['group_neck.fc.bias']
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        for old, new in KEY_RENAMES:
            if key.startswith(prefix + old):
                renamed = prefix + new + key[len(prefix + old):]
                if renamed in state_dict:
                    raise KeyError(f'state dict holds both {key!r} (earlier '
                                   f'layout) and {renamed!r}')
                key = renamed
        out[key] = value
    return out
