"""Fail before the first iteration when the training set cannot be used."""
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ..data_checks import check_train_dataset


@HOOKS.register_module()
class TrainDataCheckHook(Hook):
    """Call :func:`cld_mm.engine.data_checks.check_train_dataset` before
    training: empty set, less than one global batch, missing or 0-byte
    image files each raise an error naming the problem.

    Args:
        check_files (bool): stat every image file (about 1.6 s per 50k
            local files); set False for very large sets on slow storage.
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, check_files: bool = True) -> None:
        self.check_files = check_files

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        check_train_dataset(loader.dataset, loader.batch_size,
                            bool(loader.drop_last), get_world_size(),
                            check_files=self.check_files)
