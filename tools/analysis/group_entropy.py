"""Grouping quality of a SMoG checkpoint on a labeled dataset.

    python tools/analysis/group_entropy.py CONFIG CHECKPOINT
        [--split query|memory] [--per-class N] [--batch-size 256]
        [--out work_dirs/analysis/group_entropy.png]

For SMoG models (their group table and momentum encoder; CLD's batch groups
are not kept between steps: use ``cluster_nmi.py --level group``). Each
image of the config's test set (the ``query`` part of a ``KNNDataset`` by
default; ``--split memory`` takes the training images with test transforms)
is assigned to its group by the model (``model.group_labels``: the momentum
encoder's most similar group). For every non-empty group the class entropy
sum -p log p (natural log) is computed; the histogram of the entropies is
written as a PNG (SMoG's Fig. 5), and the mean entropy, the NMI between group
assignments and labels, and the number of non-empty groups are printed as
JSON (also written next to the PNG). The momentum encoder and the group
table must fit the config exactly (:mod:`cld_mm.evaluation.checkpoint`).
"""
import argparse
import json
import os
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402
from torch.utils.data import DataLoader, Subset  # noqa: E402

import cld_mm  # noqa: F401,E402
from cld_mm.evaluation.checkpoint import CheckpointMismatchError  # noqa: E402
from cld_mm.evaluation.features import (  # noqa: E402
    HelpFormatter,
    balanced_indices,
    build_split_dataset,
    dataset_labels,
    load_model,
)
from cld_mm.evaluation.group_metrics import group_quality  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='class entropy of SMoG '
                                     'groups', formatter_class=HelpFormatter)
    parser.add_argument('config', help='a SMoG config')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--split', choices=['query', 'memory'],
                        default='query', help='query: test images, memory: '
                        'training images (test transforms)')
    parser.add_argument('--per-class', type=int,
                        help='first N images of each class (default: all)')
    parser.add_argument('--data-root', help="replace the config's data root")
    parser.add_argument('--out', default='work_dirs/analysis/'
                        'group_entropy.png', help='PNG; the JSON summary '
                        'goes to the same name .json')
    parser.add_argument('--batch-size', type=int, default=256,
                        help='images per forward')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, KEY=VALUE')
    return parser.parse_args(argv)


@torch.no_grad()
def collect(model, dataset, batch_size: int, indices=None):
    """(N,) group assignments and (N,) labels of the dataset (or a subset)."""
    from mmengine.dataset import default_collate
    if indices is not None:
        dataset = Subset(dataset, list(indices))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        collate_fn=default_collate)
    bar = ProgressBar(len(dataset), file=sys.stderr)
    groups, labels = [], []
    for data in loader:
        data = model.data_preprocessor(data, False)
        inputs = data['inputs']
        if isinstance(inputs, list):
            inputs = inputs[0]
        groups.append(model.group_labels(inputs).cpu())
        labels += [int(s.gt_label.reshape(-1)[0])
                   for s in data['data_samples']]
        bar.update(len(data['data_samples']))
    sys.stderr.write('\n')
    return torch.cat(groups), torch.tensor(labels)


def plot_histogram(entropy: torch.Tensor, max_entropy: float, path: str,
                   title: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(entropy.numpy(), bins=20, range=(0.0, max(max_entropy, 1e-6)),
            color='tab:blue', edgecolor='black')
    ax.set_xlabel('class entropy of a group (nats)')
    ax.set_ylabel('number of groups')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not osp.exists(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = load_model(cfg, None, args.device)
    if not hasattr(model, 'group_labels'):
        raise ValueError(
            f'{type(model).__name__} keeps no groups (`group_labels`): this '
            'tool needs a SMoG config; for CLD groups use cluster_nmi.py '
            '--level group')
    model = load_model(cfg, args.checkpoint, args.device,
                       eval_level='groups')
    dataset = build_split_dataset(cfg, args.split, data_root=args.data_root)
    indices = None if args.per_class is None else balanced_indices(
        dataset_labels(dataset), args.per_class)
    assign, labels = collect(model, dataset, args.batch_size, indices)
    res = group_quality(assign, labels, num_groups=model.num_groups)
    num_classes = int(labels.max()) + 1
    out = args.out
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    summary = dict(mean_entropy=res['mean_entropy'], nmi=res['nmi'],
                   num_nonempty_groups=res['num_nonempty'],
                   num_groups=model.num_groups, num_images=len(labels),
                   max_entropy=float(torch.tensor(num_classes).log()),
                   png=out)
    plot_histogram(res['entropy'], summary['max_entropy'], out,
                   f"{len(labels)} images, {res['num_nonempty']} groups: "
                   f"mean entropy {res['mean_entropy']:.3f}, "
                   f"NMI {res['nmi']:.3f}")
    with open(osp.splitext(out)[0] + '.json', 'w') as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    try:
        main()
    except (CheckpointMismatchError, FileNotFoundError, ValueError) as e:
        sys.exit(f'{osp.basename(__file__)}: error: {e}')
