"""An optimizer wrapper that skips steps whose loss is NaN or infinite."""
import math
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class NaNGuardOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that skips the update when the loss is not finite.

    mmengine's ``train_step`` calls ``update_params(loss)`` (backward, step,
    zero_grad) right after the forward, so a hook cannot prevent a NaN/Inf
    loss from reaching the weights; this wrapper can. When the summed loss is
    NaN or +-Inf on *any* rank (the decision is all-reduced, so every rank
    skips together and DDP's gradient all-reduce cannot hang) it runs no
    backward and no optimizer step, clears the gradients, and records the
    iteration in :attr:`skipped_iters`. The parameters, the optimizer state
    (momentum buffers) and the step counter stay as they were, as in the CLD
    authors' script, which ``continue``-s on a NaN loss.

    :class:`cld_mm.engine.hooks.NonFiniteLossHook` reports the iteration and
    the offending loss terms, and stops training when its policy is
    ``'stop'``.

    Args:
        **kwargs: the arguments of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.skipped_iters: List[int] = []
        self.last_step_skipped = False

    def update_params(self, loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Backward + step as usual, or nothing if ``loss`` is not finite."""
        bad = torch.tensor(0.0 if bool(torch.isfinite(loss).all()) else 1.0,
                           device=loss.device)
        all_reduce(bad, op='sum')  # a no-op in a single process
        self.last_step_skipped = bool(bad > 0)
        if not self.last_step_skipped:
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        self.zero_grad(**(zero_kwargs or {}))
        hub = MessageHub.get_current_instance()
        # 1-based, as the logger prints "Iter(train) [k/n]"
        self.skipped_iters.append(int(hub.get_info('iter', -1)) + 1)


def nonfinite_terms(log_vars: Dict[str, object]) -> Dict[str, float]:
    """The entries of a loss/log dict whose value is NaN or +-Inf.

    Args:
        log_vars (dict): name -> tensor or number, e.g. the ``log_vars``
            returned by ``parse_losses`` (the total ``'loss'`` included).

    Returns:
        dict: name -> float value of every non-finite entry, in order.
    """
    bad = {}
    for name, value in log_vars.items():
        if isinstance(value, torch.Tensor):
            if value.numel() == 0 or bool(torch.isfinite(value).all()):
                continue
            value = value.detach().float()
            bad[name] = float(value[~torch.isfinite(value)].flatten()[0])
        elif isinstance(value, float) and not math.isfinite(value):
            bad[name] = value
    return bad
