"""Evaluating a checkpoint with a config's test loop (tools/test.py, knn_eval).

    metrics = evaluate_checkpoint(cfg, 'epoch_200.pth')

The checkpoint goes through :func:`cld_mm.evaluation.checkpoint.
load_eval_checkpoint` (the weights of the model's ``eval_level`` load exactly
or the run stops with the keys; banks, queues and groups never block it)
instead of mmengine's ``load_from`` (which loads anything non-strictly and
refuses a bank of another size). On a machine without CUDA the process group
backend is gloo and the log names the processes and the device, not "GPU
number" and NCCL.
"""
from typing import Optional

from mmengine.config import Config
from mmengine.dist import get_world_size
from mmengine.model import is_model_wrapper

from ..engine.runner import DeviceAwareRunner, cpu_env
from .checkpoint import load_eval_checkpoint
from .hooks import ProgressBarHook  # noqa: F401  (registers it)


class EvalRunner(DeviceAwareRunner):
    """The evaluation's Runner: the true environment log, no config dump."""

    log_config = False


def evaluate_checkpoint(cfg: Config, checkpoint: Optional[str],
                        progress: bool = True) -> dict:
    """Run ``cfg``'s test loop on ``checkpoint``; returns the metrics.

    Args:
        cfg (Config): the full config (``test_dataloader``,
            ``test_evaluator``); its ``load_from`` is ignored.
        checkpoint (str, optional): the checkpoint to evaluate; None: the
            randomly initialised network (the model's ``init_weights``, as
            a training starts).
        progress (bool): a progress bar over the test images (in one
            process; several processes would each count their share).
            Defaults to True.
    """
    cfg = cpu_env(cfg.copy())
    cfg.load_from = None
    cfg.resume = False
    if progress and get_world_size() == 1:
        hooks = list(cfg.get('custom_hooks') or [])
        cfg.custom_hooks = hooks + [dict(type='ProgressBarHook')]
    runner = EvalRunner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    if checkpoint is None:
        model.init_weights()
    else:
        load_eval_checkpoint(model, checkpoint)
    return runner.test()
