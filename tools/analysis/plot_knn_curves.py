"""kNN top-1 over epochs of several runs, in one PNG.

    python tools/analysis/plot_knn_curves.py WORK_DIR [LABEL=WORK_DIR ...]
        [--key knn/top1] [--paper] [--out work_dirs/analysis/knn_curves.png]

Reads each work dir's ``*/vis_data/scalars.json`` (mmengine's logs, resumed
runs merged). A run is labelled by ``LABEL=``, else by its method (from the
dumped config) and folder name. ``--paper`` draws the papers' final CIFAR-10
kNN figures as dashed lines for the methods present.
"""
import argparse
import os.path as osp

from run_logs import KNN_KEY, metric_curve, parse_run_arg, run_method

from cld_mm.evaluation.plots import plot_curves

PAPER_KNN = {'NPID': 80.8, 'NPID+CLD': 86.7, 'MoCo': 82.1, 'MoCo+CLD': 87.5}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description='plot kNN curves of runs')
    p.add_argument('work_dirs', nargs='+', metavar='[LABEL=]WORK_DIR')
    p.add_argument('--key', default=KNN_KEY)
    p.add_argument('--paper', action='store_true',
                   help="draw the papers' CIFAR-10 200-epoch figures")
    p.add_argument('--title', default='CIFAR-10 kNN accuracy (k=200)')
    p.add_argument('--out', default='work_dirs/analysis/knn_curves.png')
    args = p.parse_args(argv)
    curves, refs, colors = {}, {}, {}
    for i, arg in enumerate(args.work_dirs):
        label, wd = parse_run_arg(arg)
        steps, values = metric_curve(wd, args.key)
        if not steps:
            raise KeyError(f'{wd} logged no {args.key!r} (did validation '
                           'run?)')
        method = run_method(wd)
        if label is None:
            label = f'{method}: {osp.basename(osp.normpath(wd))}' if method \
                else osp.basename(osp.normpath(wd))
        curves[label] = (steps, values)
        colors[label] = f'C{i % 10}'
        if args.paper and method in PAPER_KNN:
            ref = f'{method} (paper, 200 ep)'
            refs[ref], colors[ref] = PAPER_KNN[method], colors[label]
        print(f'{label}: ' + ', '.join(f'ep {s}: {v:.2f}'
                                       for s, v in zip(steps, values)))
    ylabel = 'kNN top-1 (%)' if args.key == KNN_KEY else args.key
    plot_curves(curves, args.out, args.title, xlabel='epoch', ylabel=ylabel,
                references=refs, colors=colors)
    print(f'wrote {args.out}')
    return dict(out=args.out, curves=curves)


if __name__ == '__main__':
    main()
