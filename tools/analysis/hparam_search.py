"""Label-free hyper-parameter selection: short trials ranked without labels.

    python tools/analysis/hparam_search.py CONFIG [--trials 6] [--iters 40]
        [--space model.cld_head.temperature=0.1,0.2,0.5
                 model.cld_head.loss_weight=0.25:1.0]
        [--criterion view_retrieval|align_uniform|alignment|uniformity]
        [--train-ann meta/train_5k.txt] [--eval-per-class 20]
        [--query-ann meta/test_1k.txt] [--query-per-class 20] [--no-knn]
        [--batch 32] [--work-dir work_dirs/hparam_search] [--seed 0]

Optuna proposes the values (TPE; a grid when ``--grid`` and every dimension
is a list); each trial is a real mmengine training of ``--iters`` iterations
on ``--train-ann`` at constant learning rate. After it, the trained model's
features of two augmented views of ``--eval-per-class`` training images per
class (the augmentation seeded alike in every trial) give the label-free
criteria of :mod:`cld_mm.evaluation.label_free`; the study optimises
``--criterion``. Unless ``--no-knn``, the weighted kNN top-1 (training images
as memory, ``--query-ann`` images as queries) is printed beside it, with the
rank correlation between criterion and kNN over the trials.

Space syntax: ``KEY=v1,v2,...`` (a list), ``KEY=lo:hi`` (uniform; integers
if both are), ``KEY=lo:hi:log`` (log-uniform). For a config with a
``cld_head`` the default space is CLD's T_G, K and lambda. A progress bar on
stderr counts the finished trials and gives the elapsed time and the ETA.
"""
import argparse
import ast
import copy
import json
import os
import os.path as osp
import random
import sys
import time
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config

from cld_mm.evaluation.features import HelpFormatter

DEFAULT_CLD_SPACE = ['model.cld_head.temperature=0.1,0.2,0.5',
                     'model.cld_head.num_clusters=4,8,16',
                     'model.cld_head.loss_weight=0.25,0.5,1.0']


def parse_space(specs: List[str]) -> Dict[str, tuple]:
    """``KEY=...`` -> {key: ('list', values) | ('range', lo, hi, log)}."""
    space = {}
    for spec in specs:
        if '=' not in spec:
            raise ValueError(f'search space entry {spec!r} is not KEY=VALUES')
        key, text = spec.split('=', 1)
        if ':' in text and ',' not in text:
            parts = text.split(':')
            if len(parts) not in (2, 3) or (len(parts) == 3
                                            and parts[2] != 'log'):
                raise ValueError(f'range {spec!r} must be KEY=lo:hi[:log]')
            lo, hi = (ast.literal_eval(p) for p in parts[:2])
            if not lo < hi:
                raise ValueError(f'range {spec!r} needs lo < hi')
            space[key] = ('range', lo, hi, len(parts) == 3)
        else:
            values = []
            for v in text.split(','):
                try:
                    values.append(ast.literal_eval(v))
                except (ValueError, SyntaxError):
                    values.append(v)  # a bare string
            space[key] = ('list', values)
    return space


def suggest(trial, space: Dict[str, tuple]) -> Dict[str, object]:
    """One value per key from an Optuna trial."""
    params = {}
    for key, dim in space.items():
        if dim[0] == 'list':
            params[key] = trial.suggest_categorical(key, dim[1])
        elif isinstance(dim[1], int) and isinstance(dim[2], int):
            params[key] = trial.suggest_int(key, dim[1], dim[2], log=dim[3])
        else:
            params[key] = trial.suggest_float(key, float(dim[1]),
                                              float(dim[2]), log=dim[3])
    return params


def trial_config(cfg: Config, params: dict, work_dir: str, iters: int,
                 batch: int, train_ann=None, data_root=None) -> Config:
    """A copy of ``cfg`` with ``params``, trained ``iters`` iterations."""
    cfg = copy.deepcopy(cfg)
    cfg.merge_from_dict(params)
    ds = cfg.train_dataloader.dataset
    while 'dataset' in ds and 'ann_file' not in ds:
        ds = ds.dataset
    if train_ann:
        ds.ann_file = train_ann
    if data_root:
        ds.data_root = data_root
    n_train = sum(1 for _ in open(osp.join(ds.get('data_root', ''),
                                           ds.ann_file)))
    if 'bank_size' in cfg.model:
        cfg.model.bank_size = n_train
    cfg.train_dataloader.update(batch_size=batch, num_workers=0,
                                persistent_workers=False)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    cfg.param_scheduler = []
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, iters))
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo'))
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{osp.basename(work_dir)}_{time.time_ns()}'
    cfg.log_level = 'WARNING'
    return cfg


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def evaluate(model, cfg: Config, args) -> Dict[str, float]:
    """Label-free criteria (and kNN top-1) of a trained model."""
    from cld_mm.evaluation.features import (
        balanced_indices,
        build_split_dataset,
        dataset_labels,
        extract_features,
        extract_view_pairs,
    )
    from cld_mm.evaluation.knn import topk_accuracy, weighted_knn_scores
    from cld_mm.evaluation.label_free import label_free_scores
    model.eval()
    train = build_split_dataset(cfg, 'train', args.data_root, args.train_ann)
    idx = balanced_indices(dataset_labels(train), args.eval_per_class)
    seed_all(args.seed)                      # the same views in every trial
    z1, z2, _ = extract_view_pairs(model, train, idx, batch_size=64)
    scores = label_free_scores(z1, z2)
    if not args.no_knn:
        memory = build_split_dataset(cfg, 'memory', args.data_root,
                                     args.train_ann)
        query = build_split_dataset(cfg, 'query', args.data_root,
                                    args.query_ann)
        m = extract_features(model, memory, idx)
        q = extract_features(model, query, balanced_indices(
            dataset_labels(query), args.query_per_class))
        classes = int(max(m['labels'].max(), q['labels'].max())) + 1
        knn = weighted_knn_scores(q['feats'], m['feats'], m['labels'],
                                  classes, k=200, temperature=0.1)
        scores['knn_top1'] = topk_accuracy(knn, q['labels'], (1, ))[0]
    return scores


def spearman(a: List[float], b: List[float]) -> float:
    """Rank correlation of two lists (NaN when fewer than 3 or constant)."""
    from scipy.stats import spearmanr
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return float('nan')
    return float(spearmanr(a, b).statistic)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='label-free hparam search: short '
                                'trials ranked without labels',
                                formatter_class=HelpFormatter)
    p.add_argument('config')
    p.add_argument('--space', nargs='+', default=None,
                   help='KEY=v1,v2 | KEY=lo:hi[:log] (default: CLD T_G, K, '
                   'lambda: model.cld_head.*)')
    p.add_argument('--criterion', default='view_retrieval',
                   choices=['view_retrieval', 'align_uniform', 'alignment',
                            'uniformity'],
                   help='label-free criterion the study optimises')
    p.add_argument('--trials', type=int, default=6, help='number of trials')
    p.add_argument('--grid', action='store_true',
                   help='grid sampler (every dimension must be a list)')
    p.add_argument('--iters', type=int, default=40,
                   help='training iterations per trial')
    p.add_argument('--batch', type=int, default=32,
                   help='training batch size')
    p.add_argument('--train-ann', default='meta/train_5k.txt',
                   help='annotation list of the training images')
    p.add_argument('--query-ann', default='meta/test_1k.txt',
                   help='annotation list of the kNN query images')
    p.add_argument('--data-root', help="replace the config's data root")
    p.add_argument('--eval-per-class', type=int, default=20,
                   help='training images per class for the criteria')
    p.add_argument('--query-per-class', type=int, default=20,
                   help='query images per class for the kNN column')
    p.add_argument('--no-knn', action='store_true',
                   help='no labels: skip the kNN column')
    p.add_argument('--seed', type=int, default=0,
                   help='sampler and augmentation seed')
    p.add_argument('--work-dir', default='work_dirs/hparam_search',
                   help='results.json and one trial_N/ log folder per trial')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    import optuna
    from mmengine.runner import Runner
    from mmengine.utils import ProgressBar

    import cld_mm  # noqa: F401
    from cld_mm.evaluation.label_free import CRITERIA
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    specs = args.space
    if specs is None:
        if 'cld_head' not in cfg.model:
            raise ValueError('the config has no model.cld_head: give the '
                             'search space with --space KEY=v1,v2 ...')
        specs = DEFAULT_CLD_SPACE
    space = parse_space(specs)
    if args.grid:
        if any(d[0] != 'list' for d in space.values()):
            raise ValueError('--grid needs every --space entry as a list')
        sampler = optuna.samplers.GridSampler(
            {k: d[1] for k, d in space.items()}, seed=args.seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=args.seed)
    higher = CRITERIA[args.criterion]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction='maximize' if higher else 'minimize', sampler=sampler)

    def objective(trial):
        params = suggest(trial, space)
        seed_all(args.seed)
        tcfg = trial_config(cfg, params, osp.join(args.work_dir,
                                                  f'trial_{trial.number}'),
                            args.iters, args.batch, args.train_ann,
                            args.data_root)
        runner = Runner.from_cfg(tcfg)
        model = runner.train()
        model = model.module if hasattr(model, 'module') else model
        scores = evaluate(model, cfg, args)  # datasets of the full config
        for k, v in scores.items():
            trial.set_user_attr(k, v)
        print(f'trial {trial.number}: {params} -> ' + ', '.join(
            f'{k} {v:.4f}' for k, v in scores.items()), flush=True)
        bar.update()
        return scores[args.criterion]

    # trials done / total, elapsed and ETA, on stderr
    bar = ProgressBar(args.trials, file=sys.stderr)
    study.optimize(objective, n_trials=args.trials)
    sys.stderr.write('\n')
    rows = sorted(({'trial': t.number, 'params': t.params, **t.user_attrs}
                   for t in study.trials if t.value is not None),
                  key=lambda r: r[args.criterion], reverse=higher)
    keys = list(space)
    print(f'\nranked by {args.criterion} ({"higher" if higher else "lower"} '
          'is better; no labels used)')
    head = ['rank', 'trial', *keys, 'view_retrieval', 'alignment',
            'uniformity'] + ([] if args.no_knn else ['kNN top-1'])
    print('| ' + ' | '.join(head) + ' |')
    print('|' + '---|' * len(head))
    for i, r in enumerate(rows):
        cells = [str(i + 1), str(r['trial']),
                 *[f"{r['params'][k]:.4g}" if isinstance(r['params'][k], float)
                   else str(r['params'][k]) for k in keys],
                 f"{r['view_retrieval']:.3f}", f"{r['alignment']:.3f}",
                 f"{r['uniformity']:.3f}"]
        if not args.no_knn:
            cells.append(f"{r['knn_top1']:.2f}")
        print('| ' + ' | '.join(cells) + ' |')
    result = dict(criterion=args.criterion, best=rows[0] if rows else None,
                  rows=rows)
    if not args.no_knn:
        sign = 1 if higher else -1
        result['spearman_vs_knn'] = spearman(
            [sign * r[args.criterion] for r in rows],
            [r['knn_top1'] for r in rows])
        print(f"\nSpearman rank correlation (criterion, oriented so higher "
              f"is better) vs kNN top-1: {result['spearman_vs_knn']:.2f}")
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(result, f, indent=2)
    print(f"best: trial {rows[0]['trial']} {rows[0]['params']}; wrote "
          f"{osp.join(args.work_dir, 'results.json')}")
    return result


if __name__ == '__main__':
    main()
