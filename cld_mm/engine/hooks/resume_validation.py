"""Validate a resumed run's checkpoint epoch, whose validation may be missing."""
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS


def missed_validation(epoch: int, iteration: int, iters_per_epoch: int,
                      val_begin: int, val_interval: int,
                      max_epochs: int) -> bool:
    """Whether a run resumed at (``epoch``, ``iteration``) skipped a validation.

    mmengine saves an epoch's checkpoint before that epoch's validation, and a
    resumed loop starts with the next epoch: a checkpoint taken at the end of
    a validated epoch (its iteration count on the epoch boundary) leaves that
    validation to a run that may have been killed before it.
    """
    if epoch <= 0 or iteration != epoch * iters_per_epoch:
        return False
    return epoch >= val_begin and (epoch % val_interval == 0
                                   or epoch == max_epochs)


@HOOKS.register_module()
class ResumeValidationHook(Hook):
    """On resume at the end of a validated epoch, run that validation first.

    Without it, a run stopped between saving ``epoch_N.pth`` and validating
    epoch N (or after the last epoch's checkpoint) never logs epoch N's
    metric: the resumed loop goes on with epoch N + 1, or ends at once. The
    validation is the one the uninterrupted run makes (same weights, same
    step in the logs; :class:`RNGStateHook` keeps it from moving the
    training generators), so a resumed run that had validated epoch N before
    it stopped only repeats it with the same result. Fresh runs and
    iteration-based loops are left alone.
    """

    priority = 'LOW'

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if not getattr(runner, '_resume', False) or \
                not isinstance(loop, EpochBasedTrainLoop) or \
                getattr(runner, '_val_loop', None) is None:
            return
        if missed_validation(runner.epoch, runner.iter, len(loop.dataloader),
                             loop.val_begin, loop.val_interval,
                             loop.max_epochs):
            runner.logger.info(
                f'resumed at the end of epoch {runner.epoch}: validating it '
                'first (its checkpoint was written before its validation)')
            runner.val_loop.run()
