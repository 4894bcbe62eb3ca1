"""Features of a trained model on a dataset, shared by the analysis tools.

    model = load_model('configs/npid/...py', 'epoch_200.pth')
    data = build_split_dataset(model_cfg, 'query')          # test images
    out = extract_features(model, data, indices=balanced_indices(...))
    out['feats'], out['labels'], out['paths']                # (N, D), (N,), N

The datasets come from the config: ``'memory'`` and ``'query'`` are the two
parts of its ``test_dataloader`` (a :class:`cld_mm.datasets.KNNDataset`:
training and test images with test transforms), ``'train'`` is the training
set with its multi-view augmentation (for label-free criteria,
:func:`extract_view_pairs`).
"""
import argparse
import copy
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Subset

from .checkpoint import load_eval_checkpoint

SPLITS = ('memory', 'query', 'train')


def _as_config(config: Union[str, Config]) -> Config:
    if isinstance(config, Config):
        return config
    if not osp.exists(config):
        raise FileNotFoundError(f'config not found: {config}')
    return Config.fromfile(config)


def load_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu',
               eval_level: Optional[str] = None) -> torch.nn.Module:
    """Build ``cfg.model``, load ``checkpoint`` (if given), set eval mode.

    The checkpoint loads by :func:`cld_mm.evaluation.checkpoint.
    load_eval_checkpoint`: the weights of the level must fit exactly, or
    :class:`~cld_mm.evaluation.checkpoint.CheckpointMismatchError` names
    the missing and mismatched keys.

    Args:
        config (str | Config): config path or loaded config.
        checkpoint (str, optional): mmengine checkpoint. None keeps the
            random initialisation (a baseline).
        device (str): Defaults to 'cpu'.
        eval_level (str, optional): ``'neck'`` or ``'backbone'`` override
            ``model.eval_level``; ``'group'`` (a CLD group branch) and
            ``'groups'`` (SMoG's group assignment) keep it and check those
            weights instead.
    """
    from mmpretrain.registry import MODELS

    import cld_mm  # noqa: F401  (registers modules, compat fixes)
    cfg = _as_config(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model)
    if eval_level in ('neck', 'backbone'):
        model_cfg['eval_level'] = eval_level
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_eval_checkpoint(model, checkpoint, eval_level)
    return model.to(device).eval()


def _innermost(ds_cfg: dict) -> dict:
    while 'dataset' in ds_cfg and 'ann_file' not in ds_cfg:  # wrappers
        ds_cfg = ds_cfg['dataset']
    return ds_cfg


def build_split_dataset(config: Union[str, Config], split: str = 'query',
                        data_root: Optional[str] = None,
                        ann_file: Optional[str] = None,
                        pipeline: Optional[list] = None):
    """Build one dataset of the config.

    Args:
        config (str | Config): config path or loaded config.
        split (str): ``'memory'`` / ``'query'`` (test_dataloader's KNNDataset
            parts, test transforms) or ``'train'`` (training augmentation).
        data_root (str, optional): replaces the config's data root.
        ann_file (str, optional): replaces the annotation list.
        pipeline (list, optional): replaces the pipeline.
    """
    from mmpretrain.registry import DATASETS

    import cld_mm  # noqa: F401
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    cfg = _as_config(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    if split == 'train':
        ds_cfg = _innermost(copy.deepcopy(cfg.train_dataloader.dataset))
    else:
        loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
        if not loader or split not in loader.dataset:
            raise KeyError(f'the config has no test_dataloader.dataset.'
                           f'{split} (a KNNDataset) to take {split!r} from')
        ds_cfg = _innermost(copy.deepcopy(loader.dataset[split]))
    for key, value in (('data_root', data_root), ('ann_file', ann_file),
                       ('pipeline', pipeline)):
        if value is not None:
            ds_cfg[key] = value
    return DATASETS.build(ds_cfg)


def dataset_labels(dataset) -> torch.Tensor:
    """(N,) ground-truth labels from the annotation list (no image loading)."""
    return torch.tensor([int(dataset.get_data_info(i)['gt_label'])
                         for i in range(len(dataset))])


def balanced_indices(labels: torch.Tensor, per_class: int) -> List[int]:
    """The first ``per_class`` indices of every class, in class order."""
    if per_class < 1:
        raise ValueError(f'per_class must be >= 1, got {per_class}')
    out = []
    for c in labels.unique().tolist():
        out += (labels == c).nonzero().flatten()[:per_class].tolist()
    return out


def group_features(model: torch.nn.Module,
                   inputs: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) normalized images -> (N, D) unit CLD group features
    (the CLD algorithms' ``extract_group_feat``)."""
    if not hasattr(model, 'extract_group_feat'):
        raise ValueError(f'{type(model).__name__} has no CLD group branch '
                         "(model.group_neck): use level 'neck' or "
                         "'backbone'")
    return model.extract_group_feat(inputs)


def model_features(model: torch.nn.Module, inputs: torch.Tensor,
                   level: Optional[str] = None) -> torch.Tensor:
    """(N, C, H, W) normalized images -> (N, D) unit evaluation features.

    ``level='group'`` gives a CLD model's group features; otherwise the
    model's ``eval_level`` (set with :func:`load_model`).
    """
    if level == 'group':
        return group_features(model, inputs)
    if hasattr(model, 'eval_features'):
        return model.eval_features(inputs)
    feat = model.extract_feat(inputs)[-1]      # plain mmpretrain selfsup
    if feat.dim() == 4:
        feat = feat.mean(dim=(2, 3))
    return F.normalize(feat.flatten(1), dim=1)


def _progress(total: int, show: bool):
    return ProgressBar(total, file=sys.stderr) if show and total else None


def _advance(bar, n: int, done: bool = False) -> None:
    if bar is not None:
        if n:
            bar.update(n)
        if done:
            sys.stderr.write('\n')


def _loader(dataset, indices, batch_size, num_workers) -> DataLoader:
    if indices is not None:
        dataset = Subset(dataset, list(indices))
    return DataLoader(dataset, batch_size=batch_size, shuffle=False,
                      num_workers=num_workers, collate_fn=default_collate)


@torch.no_grad()
def extract_features(model: torch.nn.Module, dataset,
                     indices: Optional[Sequence[int]] = None,
                     batch_size: int = 64, num_workers: int = 0,
                     level: Optional[str] = None,
                     progress: bool = True) -> Dict[str, object]:
    """Evaluation features of a dataset built with test transforms.

    ``level='group'`` extracts a CLD model's group features instead.
    ``progress`` shows mmengine's progress bar (images, rate, ETA) on
    stderr.

    Returns:
        dict: ``feats`` (N, D) unit features, ``labels`` (N,) long,
        ``paths`` list of N image paths, ``indices`` list of N dataset rows.
    """
    indices = list(range(len(dataset))) if indices is None else list(indices)
    feats, labels = [], []
    bar = _progress(len(indices), progress)
    for batch in _loader(dataset, indices, batch_size, num_workers):
        data = model.data_preprocessor(batch, False)
        inputs = data['inputs']
        if isinstance(inputs, list):
            inputs = inputs[0]
        feats.append(model_features(model, inputs, level).cpu())
        labels += [int(s.gt_label.reshape(-1)[0])
                   for s in data['data_samples']]
        _advance(bar, len(data['data_samples']))
    _advance(bar, 0, done=True)
    paths = [dataset.get_data_info(i)['img_path'] for i in indices]
    return dict(feats=torch.cat(feats), labels=torch.tensor(labels),
                paths=paths, indices=indices)


@torch.no_grad()
def extract_view_pairs(model: torch.nn.Module, dataset,
                       indices: Optional[Sequence[int]] = None,
                       batch_size: int = 64, num_workers: int = 0,
                       progress: bool = True
                       ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features of the first two augmented views of each image.

    ``dataset`` must use a multi-view pipeline (the config's ``'train'``
    split). Returns (z1, z2, labels): (N, D), (N, D), (N,).
    """
    z1, z2, labels = [], [], []
    total = len(dataset) if indices is None else len(indices)
    bar = _progress(total, progress)
    for batch in _loader(dataset, indices, batch_size, num_workers):
        data = model.data_preprocessor(batch, False)
        views = data['inputs']
        if not isinstance(views, list) or len(views) < 2:
            raise ValueError('extract_view_pairs needs a multi-view pipeline '
                             '(MultiView num_views >= 2)')
        z1.append(model_features(model, views[0]).cpu())
        z2.append(model_features(model, views[1]).cpu())
        labels += [int(s.gt_label.reshape(-1)[0])
                   for s in data['data_samples']]
        _advance(bar, len(data['data_samples']))
    _advance(bar, 0, done=True)
    return torch.cat(z1), torch.cat(z2), torch.tensor(labels)


def load_features(config: Union[str, Config], checkpoint: Optional[str],
                  split: str = 'query', per_class: Optional[int] = None,
                  level: Optional[str] = None, data_root: Optional[str] = None,
                  ann_file: Optional[str] = None, batch_size: int = 64,
                  device: str = 'cpu', model: Optional[torch.nn.Module] = None
                  ) -> Dict[str, object]:
    """Model from config + checkpoint, then features of one split.

    The one call the analysis tools share: :func:`load_model`,
    :func:`build_split_dataset` (test transforms for ``'memory'`` /
    ``'query'``), the first ``per_class`` images of each class (all when
    None), :func:`extract_features`. ``model`` skips the loading.

    Returns:
        dict: as :func:`extract_features`, plus ``classes`` (class names).
    """
    if model is None:
        model = load_model(config, checkpoint, device, eval_level=level)
    dataset = build_split_dataset(config, split, data_root=data_root,
                                  ann_file=ann_file)
    indices = None
    if per_class is not None:
        indices = balanced_indices(dataset_labels(dataset), per_class)
    out = extract_features(model, dataset, indices, batch_size=batch_size,
                           level=level)
    classes = dataset.metainfo.get('classes') or [
        str(c) for c in range(int(out['labels'].max()) + 1)]
    out['classes'] = list(classes)
    return out


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` lists each option's default (None / off left unsaid)."""

    def _get_help_string(self, action) -> str:
        text = action.help or ''
        if any(action.default is v for v in (None, False, argparse.SUPPRESS)) \
                or '(default' in text:  # ``is``: a default of 0 == False
            return text
        return f'{text} (default: %(default)s)'.lstrip()


def add_data_arguments(parser) -> None:
    """The command-line options of :func:`load_features` (shared by tools)."""
    parser.add_argument('--split', default='query', choices=SPLITS[:2],
                        help='memory: training images, query: test images '
                        '(both with test transforms)')
    parser.add_argument('--per-class', type=int, default=None,
                        help='first N images of each class (default: all)')
    parser.add_argument('--level', choices=['neck', 'backbone', 'group'],
                        help="feature level (default: the config's "
                        "model.eval_level); group: a CLD model's group branch")
    parser.add_argument('--data-root', help="replace the config's data root")
    parser.add_argument('--ann-file', help="replace the split's annotation "
                        'list, e.g. meta/test_1k.txt')
    parser.add_argument('--batch-size', type=int, default=64,
                        help='images per forward')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
