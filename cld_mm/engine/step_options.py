"""Training-step options: mixed precision on any device, channels-last.

* :class:`MixedPrecisionOptimWrapper`: mmengine's ``AmpOptimWrapper`` without
  its GPU-only check: autocast on the device of the model's parameters (CUDA
  or CPU) in float16 (with a dynamic ``GradScaler``) or bfloat16 (no loss
  scaling needed). ``tools/train.py --amp [--amp-dtype bf16|fp16]``.
* :class:`ChannelsLastHook`: puts the model's 4-D weights in channels-last
  memory format before the run; convolutions then produce channels-last
  activations (faster on GPUs with tensor cores). ``--channels-last``.

* ``torch.compile`` needs no code: mmengine's Runner compiles the model's
  ``train_step`` (data preprocessor, backbone, necks, heads) when the config
  sets ``compile=True`` or ``compile=dict(backend=..., mode=...)``
  (``tools/train.py --compile``).

:func:`apply_step_options` folds the three switches into a config; it is
what ``tools/train.py`` calls.

mmengine's own ``AmpOptimWrapper`` is not enough on a CPU: its constructor
asserts that a CUDA (or NPU/MLU/MUSA) device is available, so CPU runs (and
the tests of this option) could not use it.
"""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpretrain.registry import HOOKS, OPTIM_WRAPPERS

AMP_DTYPES = {'float16': torch.float16, 'fp16': torch.float16,
              'bfloat16': torch.bfloat16, 'bf16': torch.bfloat16}


def amp_dtype(dtype: Union[str, torch.dtype, None]) -> torch.dtype:
    """torch dtype of an AMP dtype name; None: float16 on CUDA, else bfloat16."""
    if dtype is None:
        return torch.float16 if torch.cuda.is_available() else torch.bfloat16
    if isinstance(dtype, torch.dtype) and dtype in AMP_DTYPES.values():
        return dtype
    if dtype not in AMP_DTYPES:
        raise ValueError(f'mixed precision dtype must be one of '
                         f'{sorted(AMP_DTYPES)}, got {dtype!r}')
    return AMP_DTYPES[dtype]


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(AmpOptimWrapper):
    """Automatic mixed precision on the model's device, CPU included.

    The forward (and the data preprocessor, which mmengine runs in the same
    context) runs under ``torch.autocast(device, dtype)``; the backward,
    step, gradient clipping and checkpoint state are ``AmpOptimWrapper``'s.
    Loss scaling (``torch.amp.GradScaler`` of the device) is used for
    float16 only; for bfloat16 the scaler is disabled and steps are plain.

    Args:
        dtype (str | torch.dtype, optional): ``'float16'``/``'fp16'`` or
            ``'bfloat16'``/``'bf16'``. Defaults to None: float16 when CUDA
            is available, else bfloat16.
        loss_scale (str | float | dict): ``'dynamic'``, a static scale, or
            ``GradScaler`` arguments (float16 only). Defaults to
            ``'dynamic'``.
        **kwargs: the arguments of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, dtype=None, loss_scale='dynamic', **kwargs) -> None:
        OptimWrapper.__init__(self, **kwargs)
        self.cast_dtype = amp_dtype(dtype)
        self._scale_update_param = None
        self._loss_scale = loss_scale
        if not isinstance(loss_scale, (str, float, dict)) or \
                (isinstance(loss_scale, str) and loss_scale != 'dynamic'):
            raise TypeError('loss_scale must be "dynamic", a float or a '
                            f'dict, got {loss_scale!r}')
        self.loss_scaler = self._make_scaler(
            'cuda' if torch.cuda.is_available() else 'cpu')

    def _make_scaler(self, device_type: str) -> torch.amp.GradScaler:
        enabled = self.cast_dtype == torch.float16
        scale = self._loss_scale
        if isinstance(scale, float):
            self._scale_update_param = scale
            return torch.amp.GradScaler(device_type, init_scale=scale,
                                        enabled=enabled)
        if isinstance(scale, dict):
            return torch.amp.GradScaler(device_type, enabled=enabled, **scale)
        return torch.amp.GradScaler(device_type, enabled=enabled)

    @contextmanager
    def optim_context(self, model: nn.Module):
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        if device_type != self.loss_scaler._device:
            # the scaler of the model's device, carrying the loaded state
            state = self.loss_scaler.state_dict()
            self.loss_scaler = self._make_scaler(device_type)
            if state:
                self.loss_scaler.load_state_dict(state)
        with OptimWrapper.optim_context(self, model), \
                torch.autocast(device_type, dtype=self.cast_dtype):
            yield


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Put the model's 4-D parameters and buffers in channels-last format.

    Runs before training, validation and testing (idempotent). Inputs may
    stay contiguous: a convolution with channels-last weights returns
    channels-last activations.
    """

    priority = 'VERY_HIGH'

    def _apply(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        model.to(memory_format=torch.channels_last)

    def before_train(self, runner) -> None:
        self._apply(runner)

    def before_val(self, runner) -> None:
        self._apply(runner)

    def before_test(self, runner) -> None:
        self._apply(runner)


def apply_step_options(cfg: Config, amp: Optional[str] = None,
                       channels_last: bool = False,
                       compile: Union[bool, str, dict] = False) -> Config:
    """Fold the step options into a training config (in place).

    Args:
        cfg (Config): the training config.
        amp (str, optional): mixed precision: ``'bf16'``, ``'fp16'`` (or
            their long names), or ``'auto'`` (float16 with CUDA, else
            bfloat16). The optimizer wrapper becomes
            :class:`MixedPrecisionOptimWrapper` with the config's optimizer,
            clipping and other wrapper arguments. Defaults to None (off).
        channels_last (bool): add :class:`ChannelsLastHook` to the custom
            hooks (once). Defaults to False.
        compile (bool | str | dict): mmengine's ``compile`` setting: True,
            a ``torch.compile`` backend name, or ``torch.compile`` keyword
            arguments. Defaults to False (unchanged).

    Returns:
        Config: ``cfg``.
    """
    if amp is not None:
        dtype = None if amp == 'auto' else amp_dtype(amp)
        wrapper = cfg.get('optim_wrapper')
        if wrapper is None:
            raise ValueError('--amp needs an optim_wrapper in the config')
        if wrapper.get('type') not in (None, 'OptimWrapper', 'AmpOptimWrapper',
                                       'NaNGuardOptimWrapper',
                                       'MixedPrecisionOptimWrapper'):
            raise ValueError('mixed precision replaces the optimizer wrapper; '
                             f'{wrapper.get("type")!r} is not a plain one')
        wrapper.type = 'MixedPrecisionOptimWrapper'
        wrapper.dtype = None if dtype is None else str(dtype).split('.')[-1]
        wrapper.setdefault('loss_scale', 'dynamic')
    if channels_last:
        hooks = list(cfg.get('custom_hooks') or [])
        if not any(h.get('type') == 'ChannelsLastHook' for h in hooks):
            hooks.append(dict(type='ChannelsLastHook'))
        cfg.custom_hooks = hooks
    if compile:
        cfg.compile = dict(backend=compile) if isinstance(compile, str) \
            else compile
    return cfg
