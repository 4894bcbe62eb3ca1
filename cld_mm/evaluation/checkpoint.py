"""One loading rule for every evaluation and analysis tool.

    model = ...build the config's model...
    report = load_eval_checkpoint(model, 'epoch_200.pth', level='neck')

The weights a feature level needs must load exactly: every one of them must
be in the checkpoint with the model's shape, or :class:`CheckpointMismatchError`
lists the missing and mismatched keys (a ResNet-50 config given a ResNet-18
checkpoint, a CLD config's group level given an NPID checkpoint). Everything
else - memory banks, MoCo queues, momentum encoders, SMoG's groups for a kNN,
a CLD branch the level does not use - never blocks the evaluation: what
loads is loaded, the rest is named in one warning (a bank of another size,
parts of the model the checkpoint lacks, parts of the checkpoint the model
lacks).

Levels and the weights they need:

* ``'backbone'``: ``backbone.*``;
* ``'neck'``: ``backbone.*`` and ``neck.*``;
* ``'group'``: ``backbone.*`` and CLD's group branch (``neck.*`` too when the
  group features come from the instance neck);
* ``'groups'``: SMoG's group assignment, the momentum encoder ``target.*``
  and the group table ``groups``.
"""
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

LEVELS = ('backbone', 'neck', 'group', 'groups')
# names of a CLD model's group-branch modules (the group projection and the
# parameter-free CLD head)
_GROUP_BRANCH = ('group_neck', 'cld_head')
_LISTED = 8          # keys listed per kind in an error message


class CheckpointMismatchError(RuntimeError):
    """A checkpoint lacks, or has other shapes for, weights a level needs."""


def eval_level_of(model: nn.Module, level: Optional[str] = None) -> str:
    """The feature level a tool evaluates: ``level`` or the model's own."""
    if level is not None:
        if level not in LEVELS:
            raise ValueError(f'level must be one of {LEVELS}, got {level!r}')
        return level
    if hasattr(model, 'eval_features'):
        return getattr(model, 'eval_level', 'neck')
    return 'backbone'          # plain mmpretrain selfsup: extract_feat


def _group_branch(model: nn.Module) -> List[str]:
    names = [n for n in _GROUP_BRANCH
             if isinstance(getattr(model, n, None), nn.Module)]
    if not names:
        raise ValueError(f'{type(model).__name__} has no CLD group branch '
                         "(model.group_neck / model.cld_head): use level "
                         "'neck' "
                         "or 'backbone'")
    return names


def required_prefixes(model: nn.Module, level: str) -> Tuple[str, ...]:
    """State-dict prefixes (``'backbone.'``) or names a level reads."""
    if level == 'backbone':
        return ('backbone.', )
    if level == 'neck':
        return ('backbone.', 'neck.')
    if level == 'group':
        branch = _group_branch(model)
        from_neck = bool(getattr(model, 'group_from_neck', False))
        return ('backbone.', ) + (('neck.', ) if from_neck else ()) + tuple(
            f'{n}.' for n in branch)
    if level == 'groups':
        if not hasattr(model, 'group_labels'):
            raise ValueError(f'{type(model).__name__} has no groups '
                             '(`group_labels`): group assignment needs SMoG')
        return ('target.', 'groups')
    raise ValueError(f'level must be one of {LEVELS}, got {level!r}')


def _needed(key: str, prefixes: Sequence[str]) -> bool:
    return any(key == p or (p.endswith('.') and key.startswith(p))
               for p in prefixes)


def read_state_dict(checkpoint: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """(state dict, meta) of an mmengine checkpoint, old key names upgraded.

    The ``module.`` prefix of a DDP checkpoint is removed, and checkpoints
    written before a rename of model keys are upgraded by
    :func:`cld_mm.models.utils.checkpoint_convert.upgrade_state_dict`.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    import cld_mm  # noqa: F401  (torch.load allow-list for mmengine)
    from cld_mm.models.utils import checkpoint_convert
    if not osp.exists(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise ValueError(f'{checkpoint} holds a {type(ckpt).__name__}, not a '
                         'checkpoint dict')
    state = checkpoint_convert.unwrap_state_dict(ckpt)
    upgrade = getattr(checkpoint_convert, 'upgrade_state_dict', None)
    if upgrade is not None:
        state = upgrade(state)
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    return state, meta


def _checkpoint_model_type(meta: dict) -> Optional[str]:
    """``model.type`` of the config saved in an mmengine checkpoint."""
    text = meta.get('cfg')
    if not isinstance(text, str):
        return None
    m = re.search(r"^model\s*=\s*dict\((.*?)^\)", text, re.S | re.M)
    if m is None:
        return None
    t = re.search(r"^\s{4}type\s*=\s*'([^']+)'", m.group(1), re.M)
    return t.group(1) if t else None


def _groups_of(keys: Sequence[str]) -> str:
    """``backbone.* (62), memory_bank`` - keys summarised by first name."""
    counts: 'OrderedDict[str, int]' = OrderedDict()
    for k in keys:
        head = k.split('.', 1)[0]
        counts[head] = counts.get(head, 0) + 1
    return ', '.join(h if n == 1 and h in keys else f'{h}.* ({n})'
                     for h, n in counts.items())


def _listing(items: List[str]) -> str:
    more = len(items) - _LISTED
    return ', '.join(items[:_LISTED]) + (f', ... ({more} more)'
                                         if more > 0 else '')


def check_checkpoint_fits(model: nn.Module, state: Dict[str, torch.Tensor],
                          level: str, name: str = 'checkpoint',
                          meta: Optional[dict] = None) -> Dict[str, list]:
    """Compare a state dict with the model; raise if the level cannot load.

    Returns:
        dict: ``needed`` (keys the level reads), ``loadable`` (keys of the
        model with a same-shape tensor in the state dict), ``skipped_shape``
        (other keys whose shapes differ, e.g. a memory bank of another
        size), ``not_in_checkpoint`` (model keys the checkpoint lacks) and
        ``not_in_model`` (checkpoint keys the model lacks).

    Raises:
        CheckpointMismatchError: a needed key is missing or has another
            shape.
    """
    own = model.state_dict()
    prefixes = required_prefixes(model, level)
    needed = [k for k in own if _needed(k, prefixes)]
    missing = [k for k in needed if k not in state]
    wrong = [k for k in needed
             if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        parts = [f'{name} does not fit {type(model).__name__} at feature '
                 f"level {level!r} (it needs {_groups_of(needed)})"]
        if missing:
            parts.append(f'missing {len(missing)} of {len(needed)} keys: '
                         + _listing(missing))
        if wrong:
            parts.append(f'{len(wrong)} keys of another shape: ' + _listing(
                [f'{k} checkpoint {tuple(state[k].shape)} vs model '
                 f'{tuple(own[k].shape)}' for k in wrong]))
        saved = _checkpoint_model_type(meta or {})
        hint = (f'the checkpoint was trained as {saved}; ' if saved else '')
        parts.append(hint + 'use the config it was trained with')
        raise CheckpointMismatchError('\n  '.join(parts))
    loadable = [k for k in own if k in state
                and tuple(state[k].shape) == tuple(own[k].shape)]
    return dict(
        needed=needed, loadable=loadable,
        skipped_shape=[k for k in own if k in state and k not in loadable],
        not_in_checkpoint=[k for k in own if k not in state],
        not_in_model=[k for k in state if k not in own])


def load_eval_checkpoint(model: nn.Module, checkpoint: str,
                         level: Optional[str] = None,
                         quiet: bool = False) -> Dict[str, list]:
    """Load a checkpoint for evaluation at one feature level.

    Args:
        model (nn.Module): the config's model (unwrapped).
        checkpoint (str): mmengine checkpoint path.
        level (str, optional): ``'backbone'``, ``'neck'``, ``'group'`` or
            ``'groups'``; None: the model's ``eval_level``.
        quiet (bool): no warning about the keys left out. Defaults to False.

    Returns:
        dict: as :func:`check_checkpoint_fits`, plus ``level``.

    Raises:
        CheckpointMismatchError: the level's weights do not load exactly.
    """
    level = eval_level_of(model, level)
    state, meta = read_state_dict(checkpoint)
    report = check_checkpoint_fits(model, state, level,
                                   osp.basename(checkpoint), meta)
    own = model.state_dict()
    with torch.no_grad():
        for k in report['loadable']:
            own[k].copy_(state[k])
    notes = []
    if report['skipped_shape']:
        notes.append('other shapes, kept from the config: ' + ', '.join(
            f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}'
            for k in report['skipped_shape'][:_LISTED]))
    if report['not_in_checkpoint']:
        notes.append('not in the checkpoint (config initialisation kept): '
                     + _groups_of(report['not_in_checkpoint']))
    if report['not_in_model']:
        notes.append('in the checkpoint but not in the config\'s model: '
                     + _groups_of(report['not_in_model']))
    if notes and not quiet:
        saved = _checkpoint_model_type(meta)
        built = type(model).__name__
        head = (f'WARNING: {osp.basename(checkpoint)} was trained as {saved}, '
                f'the config builds {built}; '
                if saved and saved != built else
                f'note: {osp.basename(checkpoint)} -> {built}: ')
        print(f"{head}the {level!r} level's {len(report['needed'])} weights "
              'loaded exactly; unused by this evaluation: '
              + '; '.join(notes), file=sys.stderr, flush=True)
    report['level'] = level
    return report
