"""Evaluation hooks: a test-loop progress bar, kNN before training.

Both only call mmengine: :class:`ProgressBarHook` advances mmengine's
``ProgressBar`` (images done, rate, ETA) over an offline test loop;
:class:`ValBeforeTrainHook` runs the val loop once before the first
training step, so a log holds the randomly initialised network's figure
beside the trained one, and prints both at the end.
"""
import sys
from typing import Optional

from mmengine.hooks import Hook
from mmengine.utils import ProgressBar
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """mmengine's progress bar over the images of a test loop (on stderr)."""

    priority = 'VERY_LOW'

    def before_test_epoch(self, runner) -> None:
        self._bar = ProgressBar(len(runner.test_dataloader.dataset),
                                file=sys.stderr)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._bar.update(len(outputs) if outputs is not None else 1)

    def after_test_epoch(self, runner, metrics=None) -> None:
        sys.stderr.write('\n')


@HOOKS.register_module()
class ValBeforeTrainHook(Hook):
    """Validate the initialised network before training; report both.

    Args:
        metric (str): the metric printed. Defaults to ``'knn/top1'``.
        label (str): its name in the summary. Defaults to
            ``'kNN top-1'``.
    """

    priority = 'LOW'

    def __init__(self, metric: str = 'knn/top1',
                 label: str = 'kNN top-1') -> None:
        self.metric, self.label = metric, label
        self.before: Optional[float] = None
        self.last: Optional[float] = None

    def before_train(self, runner) -> None:
        if runner.val_loop is None or runner.iter > 0:  # resumed: not init
            return
        metrics = runner.val_loop.run()
        self.before = metrics.get(self.metric)
        if self.before is not None:
            runner.logger.info(f'random init {self.label}: '
                      f'{self.before:.1f} %')

    def after_val_epoch(self, runner, metrics=None) -> None:
        if metrics and self.metric in metrics and runner.iter > 0:
            self.last = metrics[self.metric]

    def after_train(self, runner) -> None:
        if self.last is None:
            return
        text = f'trained {self.label}: {self.last:.1f} %'
        if self.before is not None:
            text = (f'random init {self.label}: {self.before:.1f} % -> '
                    f'{text} ({self.last - self.before:+.1f} points)')
        runner.logger.info(text)
