"""Helpers for tests: tiny Runner configs on the shared CIFAR-10 slice."""
import copy
import os.path as osp

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tiny_config(config: str, work_dir: str, root: str, train_ann: str,
                test_ann: str = None, batch_size: int = 8, max_iters: int = 4,
                **model_overrides) -> Config:
    """Load ``config`` and shrink it to a few CPU iterations on a data slice.

    ResNet-18 stays the architecture; batches, data and schedule shrink.
    """
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.work_dir = work_dir
    n_train = sum(1 for _ in open(osp.join(root, train_ann)))
    ds = cfg.train_dataloader.dataset
    while 'dataset' in ds and 'ann_file' not in ds:  # wrappers
        ds = ds.dataset
    ds.data_root, ds.ann_file = root, train_ann
    cfg.train_dataloader.update(batch_size=batch_size, num_workers=0,
                                persistent_workers=False)
    if 'bank_size' in cfg.model:
        cfg.model.bank_size = n_train
    cfg.model.update(model_overrides)
    epochs = max(1, max_iters * batch_size // n_train)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs,
                         val_interval=epochs)
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs,
                                by_epoch=True, begin=0, end=epochs,
                                convert_to_iter_based=True)]
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint.update(interval=epochs)
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo'))
    if test_ann is not None and cfg.get('val_dataloader'):
        vd = cfg.val_dataloader
        vd.update(batch_size=40, num_workers=0, persistent_workers=False)
        vd.dataset.memory.update(data_root=root, ann_file=train_ann)
        vd.dataset.query.update(data_root=root, ann_file=test_ann)
        cfg.test_dataloader = copy.deepcopy(vd)
    else:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.log_level = 'WARNING'
    return cfg
