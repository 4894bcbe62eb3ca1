"""Offline weighted kNN evaluation of a checkpoint.

    python tools/analysis/knn_eval.py CONFIG CHECKPOINT [--level neck]
        [--k 200] [--temperature 0.1] [--train-ann meta/train_5k.txt]
        [--test-ann meta/test_1k.txt] [--data-root data/cifar10/]

The training set's features are recomputed with test transforms (the config's
``test_dataloader``, a ``KNNDataset``), then each test image is classified by
its k nearest training features. ``CHECKPOINT`` may be ``none`` (the randomly
initialised network, as a training starts). The weights of the feature level
must load exactly (:mod:`cld_mm.evaluation.checkpoint`); a memory bank,
queue or group table of another size does not matter.
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import Config, DictAction

import cld_mm  # noqa: F401
from cld_mm.engine.config_checks import check_dataset_paths
from cld_mm.evaluation.checkpoint import CheckpointMismatchError
from cld_mm.evaluation.features import HelpFormatter
from cld_mm.evaluation.offline import evaluate_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='weighted kNN accuracy of a checkpoint',
        formatter_class=HelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="mmengine checkpoint; 'none': the "
                        'randomly initialised network')
    parser.add_argument('--level', choices=['neck', 'backbone'],
                        help="feature level (default: the config's "
                        'model.eval_level)')
    parser.add_argument('--k', type=int, default=200, help='neighbours')
    parser.add_argument('--temperature', type=float, default=0.1,
                        help='vote weight exp(sim / T)')
    parser.add_argument('--train-ann', help='annotation list of the memory '
                        "(training) images, e.g. meta/train_5k.txt (default: "
                        "the config's)")
    parser.add_argument('--test-ann', help='annotation list of the query '
                        "(test) images, e.g. meta/test_1k.txt (default: the "
                        "config's)")
    parser.add_argument('--data-root', help="replace the config's data root")
    parser.add_argument('--batch-size', type=int,
                        help="images per forward (default: the config's)")
    parser.add_argument('--work-dir', help='log folder (default: '
                        'work_dirs/knn_<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='other config overrides, KEY=VALUE')
    return parser.parse_args(argv)


def knn_config(args) -> Config:
    """The config with the tool's options applied."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.level:
        cfg.model.eval_level = args.level
    loader = cfg.test_dataloader
    for part, ann in (('memory', args.train_ann), ('query', args.test_ann)):
        if part not in loader.dataset:
            raise KeyError(f'test_dataloader.dataset has no {part!r}: kNN '
                           'needs a KNNDataset')
        if ann:
            loader.dataset[part].ann_file = ann
        if args.data_root:
            loader.dataset[part].data_root = args.data_root
    if args.batch_size:
        loader.batch_size = args.batch_size
    cfg.test_evaluator = dict(type='KNNAccuracy', k=args.k,
                              temperature=args.temperature)
    cfg.work_dir = args.work_dir or osp.join(
        'work_dirs', 'knn_' + osp.splitext(osp.basename(args.config))[0])
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    ckpt = None if args.checkpoint == 'none' else args.checkpoint
    if ckpt is not None and not osp.exists(ckpt):
        raise FileNotFoundError(f'checkpoint not found: {ckpt}')
    cfg = knn_config(args)
    check_dataset_paths(cfg, phases=('test', ))
    try:
        metrics = evaluate_checkpoint(cfg, ckpt)
    except CheckpointMismatchError as exc:  # the keys, without a traceback
        sys.exit(f'error: {exc}')
    name = 'random init' if ckpt is None else osp.basename(ckpt)
    top = ', '.join(f'{k.split("/")[-1]} {v:.2f} %'
                    for k, v in metrics.items())
    print(f'kNN (k={args.k}) of {name}: {top}')
    print(json.dumps(metrics))
    return metrics


if __name__ == '__main__':
    main()
