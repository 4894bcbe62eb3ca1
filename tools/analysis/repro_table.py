"""Markdown table of the CIFAR-10 reproduction: ours vs the papers.

    python tools/analysis/repro_table.py WORK_DIR [LABEL=WORK_DIR ...]
        [--key knn/top1]

Each work dir is one run; its method (``NPID``, ``NPID+CLD``, ``MoCo``,
``MoCo+CLD``) comes from ``LABEL=`` or from the model type of the config
mmengine dumped into the work dir. Per run: the last and the best logged kNN
top-1 and the last epoch; the gain column compares each +CLD run with its
base run at the last epoch both logged (runs stopped at different epochs are
compared like for like; the epoch is given), beside the papers' gain (200
epochs, full CIFAR-10).
"""
import argparse

from run_logs import KNN_KEY, metric_curve, parse_run_arg, run_method

PAPER_KNN = {'NPID': 80.8, 'NPID+CLD': 86.7, 'MoCo': 82.1, 'MoCo+CLD': 87.5}
BASE_OF = {'NPID+CLD': 'NPID', 'MoCo+CLD': 'MoCo'}


def collect(run_args, key: str = KNN_KEY) -> list:
    """One row per run: method, work dir, last epoch, last and best value."""
    rows = []
    for arg in run_args:
        label, wd = parse_run_arg(arg)
        method = label or run_method(wd)
        if method is None:
            raise KeyError(f'cannot tell the method of {wd}: pass '
                           f'METHOD={wd} (e.g. NPID+CLD={wd})')
        steps, values = metric_curve(wd, key)
        if not steps:
            raise KeyError(f'{wd} logged no {key!r}')
        rows.append(dict(method=method, work_dir=wd, epochs=steps[-1],
                         last=values[-1], best=max(values),
                         curve=dict(zip(steps, values))))
    return rows


def gain_at_common_epoch(run: dict, base: dict):
    """(epoch, run - base) at the last epoch both curves logged, or None."""
    common = set(run['curve']) & set(base['curve'])
    if not common:
        return None
    epoch = max(common)
    return epoch, run['curve'][epoch] - base['curve'][epoch]


def markdown(rows: list) -> str:
    """The table as Markdown text."""
    by_method = {r['method']: r for r in rows}
    lines = ['| method | epochs | kNN top-1 last | best | gain over base '
             '| paper (200 ep) | paper gain |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        base = BASE_OF.get(r['method'])
        found = gain_at_common_epoch(r, by_method[base]) \
            if base in by_method else None
        gain = f'{found[1]:+.2f} (ep {found[0]})' if found else '-'
        paper = PAPER_KNN.get(r['method'])
        pgain = (f'{paper - PAPER_KNN[base]:+.1f}' if base and paper
                 else '-')
        lines.append(f"| {r['method']} | {r['epochs']} | {r['last']:.2f} | "
                     f"{r['best']:.2f} | {gain} | "
                     f"{paper if paper is not None else '-'} | {pgain} |")
    return '\n'.join(lines)


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description='reproduction table')
    p.add_argument('work_dirs', nargs='+', metavar='[METHOD=]WORK_DIR')
    p.add_argument('--key', default=KNN_KEY)
    args = p.parse_args(argv)
    table = markdown(collect(args.work_dirs, args.key))
    print(table)
    return table


if __name__ == '__main__':
    main()
