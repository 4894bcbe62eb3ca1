"""Fail before training when a memory bank cannot hold the training set."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class BankSizeCheckHook(Hook):
    """Call ``model.check_bank_size(len(train_dataset))`` before training."""

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        if hasattr(model, 'check_bank_size'):
            model.check_bank_size(len(runner.train_dataloader.dataset))
