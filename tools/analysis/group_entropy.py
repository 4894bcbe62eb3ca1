"""Grouping quality of a SMoG checkpoint on a labeled dataset.

    python tools/analysis/group_entropy.py CONFIG CHECKPOINT
        [--split query|memory] [--out entropy.png] [--batch-size 256]
        [--device cpu] [--cfg-options ...]

Each image of the config's test set (the ``query`` part of a ``KNNDataset``
by default; ``--split memory`` takes the training images with test
transforms) is assigned to its group by the model (``model.group_labels``:
the momentum encoder's most similar group). For every non-empty group the
class entropy sum -p log p (natural log) is computed; the histogram of the
entropies is written as a PNG (SMoG's Fig. 5), and the mean entropy, the NMI
between group assignments and labels, and the number of non-empty groups are
printed as JSON (also written next to the PNG).
"""
import argparse
import json
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner, load_checkpoint  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402

import cld_mm  # noqa: F401,E402
from cld_mm.evaluation.group_metrics import group_quality  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='group class entropy')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', choices=['query', 'memory'],
                        default='query', help='part of a KNNDataset test set')
    parser.add_argument('--out', help='PNG path (default: next to the '
                        'checkpoint, group_entropy.png)')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def labeled_dataset_cfg(cfg: Config, split: str) -> dict:
    """The test set's dataset config (the ``split`` part of a KNNDataset)."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader:
        raise KeyError('the config has no test_dataloader / val_dataloader '
                       'to take labeled images from')
    ds = loader['dataset']
    return ds[split] if ds.get('type') == 'KNNDataset' else ds


@torch.no_grad()
def collect(model, dataset_cfg: dict, batch_size: int):
    """(N,) group assignments and (N,) labels of the whole dataset."""
    loader = Runner.build_dataloader(dict(
        batch_size=batch_size, num_workers=0, dataset=dataset_cfg,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate')))
    groups, labels = [], []
    for data in loader:
        data = model.data_preprocessor(data, False)
        inputs = data['inputs']
        if isinstance(inputs, list):
            inputs = inputs[0]
        groups.append(model.group_labels(inputs).cpu())
        labels += [int(s.gt_label[0]) for s in data['data_samples']]
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
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'group_labels'):
        raise ValueError(f'{type(model).__name__} has no groups '
                         '(`group_labels`); this tool needs e.g. SMoG')
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(args.device).eval()
    assign, labels = collect(model, labeled_dataset_cfg(cfg, args.split),
                             args.batch_size)
    res = group_quality(assign, labels, num_groups=model.num_groups)
    num_classes = int(labels.max()) + 1
    out = args.out or osp.join(osp.dirname(osp.abspath(args.checkpoint)),
                               'group_entropy.png')
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
    main()
