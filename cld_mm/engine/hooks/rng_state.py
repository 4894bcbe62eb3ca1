"""Checkpoint the RNG states of every rank so a resumed run replays exactly."""
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmpretrain.registry import HOOKS

from ..rng import get_rng_states, set_rng_states


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save and restore Python/numpy/torch RNG states with each checkpoint.

    mmengine re-seeds a resumed run with the original seed, so augmentations
    (numpy/torch global generators) after a resume differ from an
    uninterrupted run. This hook stores every rank's generator states in
    ``checkpoint['rng_states']`` (a list indexed by rank) and restores them
    on ``resume``, so N iterations equal N/2 + resume + N/2 bit for bit
    (deterministic CPU settings, ``num_workers=0`` or non-persistent
    workers). States are captured after each training epoch (and after each
    iteration when the checkpoint hook saves by iteration), before the
    checkpoint hook saves; several ranks exchange theirs with one
    ``all_gather_object``. Validation runs between epochs are kept from
    advancing the training generators (snapshot before, restore after).
    """

    priority = 'ABOVE_NORMAL'  # before CheckpointHook (VERY_LOW)

    def __init__(self) -> None:
        self._states = None
        self._val_states = None

    def _capture(self) -> None:
        states = get_rng_states()
        self._states = all_gather_object(states) \
            if get_world_size() > 1 else [states]

    def after_train_epoch(self, runner) -> None:
        self._capture()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if any(isinstance(h, CheckpointHook) and not h.by_epoch
               for h in runner.hooks):
            self._capture()

    def before_val(self, runner) -> None:
        self._val_states = get_rng_states()

    def after_val(self, runner) -> None:
        if self._val_states is not None:
            set_rng_states(self._val_states)
            self._val_states = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_states'] = self._states or [get_rng_states()]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('rng_states')
        if not getattr(runner, '_resume', False) or not states:
            return
        if len(states) != get_world_size():
            runner.logger.warning(
                f'checkpoint holds RNG states of {len(states)} ranks, this '
                f'run has {get_world_size()}: RNG states not restored, the '
                'resumed run will not replay the original one exactly')
            return
        set_rng_states(states[get_rank()])
