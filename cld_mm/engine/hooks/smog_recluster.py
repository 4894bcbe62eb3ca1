"""Trigger SMoG's periodic re-clustering from the training loop."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class SMoGReclusterHook(Hook):
    """Call ``model.recluster()`` after every ``interval``-th train iteration.

    The model does the work (k-means on its feature cache, identical groups
    on every rank); this hook only decides when. It fires after iterations
    ``interval, 2 * interval, ...`` counted from the start of training, so a
    resumed run fires at the same iterations as an uninterrupted one.

    Args:
        interval (int): iterations between re-clusterings (SMoG: 300).
            Defaults to 300.
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 300) -> None:
        if int(interval) < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = int(interval)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            model = runner.model.module if is_model_wrapper(runner.model) \
                else runner.model
            model.recluster()
