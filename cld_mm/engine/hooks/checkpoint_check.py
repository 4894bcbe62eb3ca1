"""Record who wrote a checkpoint; refuse one that does not fit the model."""
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ..checkpoint_checks import check_checkpoint_compatible


@HOOKS.register_module()
class CheckpointCheckHook(Hook):
    """Write ``meta['algorithm']`` / ``meta['world_size']`` into checkpoints
    and check a loaded checkpoint before its weights reach the model.

    ``after_load_checkpoint`` runs before mmengine copies the state dict, so
    a mismatching checkpoint (another algorithm, another bank size) raises a
    ``ValueError`` naming the problem instead of a silent partial load.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) \
            else runner.model

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.setdefault('meta', {})
        meta['algorithm'] = type(self._model(runner)).__name__
        meta['world_size'] = get_world_size()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        resume = bool(getattr(runner, '_resume', False))
        source = getattr(runner, '_load_from', None) or (
            f'(latest in {runner.work_dir})' if resume else '')
        check_checkpoint_compatible(self._model(runner), checkpoint,
                                    resume=resume, source=str(source))
