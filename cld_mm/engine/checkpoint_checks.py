"""Refuse a checkpoint that does not belong to the model it is loaded into."""
import re
from typing import Dict, List

import torch
from torch import nn

MAX_LISTED = 5


def _strip(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix of wrapped models (as mmengine does)."""
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()}


def _listed(keys: List[str]) -> str:
    more = len(keys) - MAX_LISTED
    return ', '.join(keys[:MAX_LISTED]) + (f' (+{more} more)' if more > 0
                                           else '')


def checkpoint_mismatches(model: nn.Module,
                          checkpoint: dict) -> Dict[str, list]:
    """Compare a checkpoint's ``state_dict`` with ``model.state_dict()``.

    Args:
        model (nn.Module): the (unwrapped) model to load into.
        checkpoint (dict): an mmengine checkpoint (``state_dict`` key) or a
            bare state dict.

    Returns:
        dict: ``shape`` (list of ``(key, ckpt_shape, model_shape)``),
        ``missing`` (model keys absent from the checkpoint) and
        ``unexpected`` (checkpoint keys the model lacks).
    """
    from cld_mm.models.utils.checkpoint_convert import upgrade_state_dict

    # keys of an earlier layout (cld.group_neck.*) under their current names
    state = upgrade_state_dict(_strip(checkpoint.get('state_dict',
                                                     checkpoint)))
    own = model.state_dict()
    shape = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in state.items()
             if k in own and hasattr(v, 'shape') and v.shape != own[k].shape]
    return dict(shape=shape,
                missing=sorted(set(own) - set(state)),
                unexpected=sorted(set(state) - set(own)))


def check_checkpoint_compatible(model: nn.Module, checkpoint: dict,
                                resume: bool, source: str = '') -> None:
    """Raise ``ValueError`` if ``checkpoint`` cannot be loaded into ``model``.

    mmengine loads non-strictly and only warns about mismatches, so a memory
    bank of another size or another algorithm's weights would be silently
    skipped. Any shape mismatch is an error. When resuming, the checkpoint
    must also come from the same algorithm (``meta['algorithm']`` written by
    :class:`cld_mm.engine.hooks.CheckpointCheckHook`) and hold exactly the
    model's keys; loading weights to initialise another model (``load_from``)
    may leave keys out.

    Args:
        model (nn.Module): the unwrapped model.
        checkpoint (dict): the loaded checkpoint.
        resume (bool): whether training resumes from it.
        source (str): the checkpoint's path, for messages. Defaults to ''.
    """
    where = f' {source}' if source else ''
    name = type(model).__name__
    algo = checkpoint.get('meta', {}).get('algorithm')
    if resume and algo is not None and algo != name:
        raise ValueError(f'checkpoint{where} was written by {algo}, cannot '
                         f'resume a {name} from it')
    bad = checkpoint_mismatches(model, checkpoint)
    if bad['shape']:
        lines = '; '.join(f'{k}: checkpoint {c} vs model {m}'
                          for k, c, m in bad['shape'][:MAX_LISTED])
        hint = (' (another bank_size: the memory bank must have one row per '
                'training image)' if any('bank' in k for k, _, _ in
                                         bad['shape']) else '')
        raise ValueError(f'checkpoint{where} does not fit {name}: shape '
                         f'mismatch {lines}{hint}')
    if resume and (bad['missing'] or bad['unexpected']):
        raise ValueError(
            f'checkpoint{where} is not a {name} checkpoint: missing keys '
            f'[{_listed(bad["missing"])}], unexpected keys '
            f'[{_listed(bad["unexpected"])}]')
