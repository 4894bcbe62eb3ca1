"""Helpers for tests: tiny Runner configs on the shared CIFAR-10 slice.

The 20-image recipe most Runner tests share::

    root, train_ann, test_ann = cifar_t20          # conftest fixture
    cfg = tiny_config(CONFIG, work_dir, root, train_ann, batch_size=8)
    small_crops(cfg.train_dataloader.dataset.pipeline)   # 16 px views

and, for exact comparisons, :func:`deterministic_views` (no random
augmentation) and :func:`shrink_backbone` (a narrow ResNet, optionally with a
per-sample norm instead of BatchNorm).
"""
import copy
import os
import os.path as osp
import uuid
from typing import Optional

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# the shipped configs most Runner tests shrink
NPID_CFG = 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py'
MOCO_CFG = 'configs/moco/moco_resnet18_1xb256-coslr-200e_cifar10.py'


def npid_model(bank_size: int, feat_dim: int = 128,
               norm_cfg: Optional[dict] = None, **kwargs) -> dict:
    """The tiny NPID model dict of the unit tests: the CIFAR ResNet-18 and a
    linear projection to ``feat_dim`` (``norm_cfg`` replaces its BN)."""
    backbone = dict(type='ResNet_CIFAR', depth=18)
    if norm_cfg is not None:
        backbone['norm_cfg'] = norm_cfg
    return dict(type='NPID', bank_size=bank_size, feat_dim=feat_dim,
                backbone=backbone,
                neck=dict(type='LinearNeck', in_channels=512,
                          out_channels=feat_dim, gap_dim=2, norm_cfg=None),
                **kwargs)


def moco_model(queue_len: int = 32, feat_dim: int = 16,
               momentum: float = 0.01, type: str = 'MoCo', **kwargs) -> dict:
    """The tiny MoCo v2 model dict of the unit tests (CIFAR ResNet-18, a
    32-wide MLP neck, temperature 0.2)."""
    return dict(
        type=type, queue_len=queue_len, feat_dim=feat_dim, momentum=momentum,
        backbone=dict(type='ResNet_CIFAR', depth=18),
        neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=32,
                  out_channels=feat_dim, with_avg_pool=True),
        head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                  temperature=0.2), **kwargs)


def write_subset(root: str, split: str, per_class: int, name: str) -> str:
    """A class-balanced annotation list of the first ``per_class`` images."""
    from cld_mm.datasets.cifar_folder import CIFAR10_CLASSES
    lines = []
    for label, cls in enumerate(CIFAR10_CLASSES):
        files = sorted(os.listdir(osp.join(root, split, cls)))[:per_class]
        lines += [f'{split}/{cls}/{f} {label}\n' for f in files]
    path = osp.join(root, 'meta', f'{name}.txt')
    if not osp.exists(path):
        tmp = f'{path}.{os.getpid()}'
        with open(tmp, 'w') as f:
            f.writelines(lines)
        os.replace(tmp, path)
    return f'meta/{name}.txt'


def tiny_config(config: str, work_dir: str, root: str, train_ann: str,
                test_ann: str = None, batch_size: int = 8, max_iters: int = 4,
                **model_overrides) -> Config:
    """Load ``config`` and shrink it to a few CPU iterations on a data slice.

    ResNet-18 stays the architecture; batches, data and schedule shrink.
    """
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.work_dir = work_dir
    # mmengine names the MessageHub after the config and the second it was
    # built: two Runners of one config within a second would share it
    cfg.experiment_name = (osp.splitext(osp.basename(config))[0] + '_' +
                           uuid.uuid4().hex[:8])
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


def t20_config(cifar_t20, work_dir: str, config: str = NPID_CFG,
               max_iters: int = 2, validate: bool = False,
               **model_overrides) -> Config:
    """The 20-image recipe: ``config`` on the ``cifar_t20`` fixture's slice,
    batch 8 (2 iterations per epoch), 16 px crops, kNN validation on the
    40 test images when ``validate``."""
    root, train_ann, test_ann = cifar_t20
    cfg = tiny_config(config, work_dir, root, train_ann,
                      test_ann if validate else None, batch_size=8,
                      max_iters=max_iters, **model_overrides)
    small_crops(cfg.train_dataloader.dataset.pipeline)
    return cfg


def small_crops(pipeline, size: int = 16) -> None:
    """Every RandomResizedCrop of a (nested) pipeline to ``size`` px."""
    for t in pipeline:
        if isinstance(t, (list, tuple)):
            small_crops(t, size)
        elif isinstance(t, dict):
            if t.get('type') == 'RandomResizedCrop':
                t['scale'] = size
            small_crops(t.get('transforms', []), size)


# deterministic, distinct views: identity, flips (mmpretrain RandomFlip, p=1)
_FLIPS = ([], [dict(type='RandomFlip', prob=1.0, direction='horizontal')],
          [dict(type='RandomFlip', prob=1.0, direction='vertical')],
          [dict(type='RandomFlip', prob=1.0, direction='diagonal')])


def deterministic_views(cfg: Config, size: int = 16) -> int:
    """Replace the train ``MultiView`` by as many augmentation-free views.

    View i is the image resized to ``size`` px, then flipped (none,
    horizontal, vertical, both), so every view differs and no random number
    is drawn: two runs (or two ranks) see identical inputs. Returns the
    number of views.
    """
    pipeline = cfg.train_dataloader.dataset.pipeline
    for i, t in enumerate(pipeline):
        if t.get('type') == 'MultiView':
            nums = t['num_views']
            n = sum(nums) if isinstance(nums, (list, tuple)) else int(nums)
            if n > len(_FLIPS):
                raise ValueError(f'at most {len(_FLIPS)} views, got {n}')
            resize = [dict(type='Resize', scale=size)]
            pipeline[i] = dict(type='MultiView', num_views=[1] * n,
                               transforms=[resize + f for f in _FLIPS[:n]])
            return n
    raise ValueError('the train pipeline has no MultiView')


def nested_dicts(node):
    """Every dict in a (nested) config node, parents before children."""
    if isinstance(node, dict):
        yield node
        children = list(node.values())
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return
    for child in children:
        yield from nested_dicts(child)


def shrink_backbone(model: dict, base_channels: int = 8,
                    norm_cfg: Optional[dict] = None) -> dict:
    """Narrow the ResNet of a model config (in place) and adapt its necks.

    Every stage gets ``base_channels * 2**i`` channels, so the last stage
    gives ``8 * base_channels`` features instead of 512; each neck dict
    whose ``in_channels`` was the backbone's 512 is changed to match,
    wherever it sits (``neck``, a group neck, ...). ``norm_cfg`` (e.g.
    ``dict(type='GN', num_groups=4)``) replaces the backbone's BatchNorm.
    """
    backbone = model['backbone']
    old = 512 * (4 if backbone.get('depth', 18) >= 50 else 1)
    new = old * base_channels // 64
    backbone.update(base_channels=base_channels, stem_channels=base_channels)
    if norm_cfg is not None:
        backbone['norm_cfg'] = norm_cfg
    for node in list(nested_dicts(model)):
        if node is not backbone and node.get('in_channels') == old:
            node['in_channels'] = new
    return model


def set_where(node, anchor: str, **values) -> int:
    """Set ``values`` in every (nested) dict of ``node`` holding ``anchor``.

    Finds an option wherever a config keeps it (e.g. the CLD options next to
    ``num_clusters``), so tests do not depend on the nesting. Returns how
    many dicts were changed; raises if none holds ``anchor``.
    """
    holders = [n for n in nested_dicts(node) if anchor in n]
    for n in holders:
        n.update(values)
    count = len(holders)
    if not count:
        raise KeyError(f'no dict holds {anchor!r}')
    return count


def shrink_options(node, **limits) -> dict:
    """Cap every (nested) integer option named in ``limits`` at its limit.

    Sizes a config chose for the full data and batch (e.g. ``queue_len``,
    ``num_clusters``) are found wherever they are nested and lowered to at
    most ``limits[key]``; smaller values stay. Returns how many dicts were
    changed per key (keys with none changed are left out).
    """
    changed = {}
    for n in list(nested_dicts(node)):
        for key, limit in limits.items():
            value = n.get(key)
            if isinstance(value, int) and not isinstance(value, bool) \
                    and value > limit:
                n[key] = limit
                changed[key] = changed.get(key, 0) + 1
    return changed
