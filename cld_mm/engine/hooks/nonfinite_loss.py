"""Report a NaN/Inf loss with its iteration and term; skip the step or stop."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ..optim_wrapper import NaNGuardOptimWrapper, nonfinite_terms

POLICIES = ('skip', 'stop')


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Detect a non-finite loss after each training iteration.

    The message names the iteration (1-based, as logged), the epoch and every
    NaN/Inf loss term (e.g. ``loss_cld=nan``). With ``policy='skip'`` the step
    was skipped by :class:`cld_mm.engine.NaNGuardOptimWrapper` (required: set
    ``optim_wrapper.type='NaNGuardOptimWrapper'``) and a warning is logged;
    with ``policy='stop'`` a ``FloatingPointError`` ends training. The hook
    runs before the checkpoint hook, so no checkpoint of that iteration is
    written.

    Args:
        policy (str): ``'skip'`` or ``'stop'``. Defaults to 'stop'.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, policy: str = 'stop') -> None:
        if policy not in POLICIES:
            raise ValueError(f'NonFiniteLossHook policy must be one of '
                             f'{POLICIES}, got {policy!r}')
        self.policy = policy

    def before_train(self, runner) -> None:
        if self.policy == 'skip' and not isinstance(runner.optim_wrapper,
                                                    NaNGuardOptimWrapper):
            raise ValueError(
                "NonFiniteLossHook policy='skip' needs optim_wrapper="
                "dict(type='NaNGuardOptimWrapper', ...) to skip the step; got "
                f'{type(runner.optim_wrapper).__name__}')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        terms = nonfinite_terms(outputs or {})
        skipped = getattr(runner.optim_wrapper, 'last_step_skipped', False)
        if not terms and not skipped:
            return
        parts = [f'{k}={v}' for k, v in terms.items() if k != 'loss']
        parts = parts or [f'{k}={v}' for k, v in terms.items()]
        where = ', '.join(parts) if parts else 'on another rank'
        msg = (f'non-finite loss at iteration {runner.iter + 1} (epoch '
               f'{runner.epoch + 1}): {where}')
        if self.policy == 'stop':
            raise FloatingPointError(
                f'{msg}; training stopped (NonFiniteLossHook policy="stop"), '
                'no checkpoint of this iteration was written')
        runner.logger.warning(f'{msg}; the optimizer step was skipped')
