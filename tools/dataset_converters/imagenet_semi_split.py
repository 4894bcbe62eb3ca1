"""Write class-balanced ImageNet 1% / 10% annotation lists.

    python tools/dataset_converters/imagenet_semi_split.py \
        data/imagenet/meta/train.txt [--fractions 0.01 0.1] [--seed 0] \
        [--out-dir data/imagenet/meta]

Reads the full train list ("path label" lines) and writes
``train_1percent.txt`` / ``train_10percent.txt`` (same format) next to it:
floor(fraction * N) images, per-class counts differing by at most one,
the same files for the same list and seed.
"""
import argparse
import os
import os.path as osp

from cld_mm.datasets.semi_split import (
    class_balanced_subset,
    read_image_list,
    write_image_list,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('train_list', help='full ImageNet train list')
    parser.add_argument('--fractions', type=float, nargs='+',
                        default=[0.01, 0.1])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir', help='defaults to the list folder')
    args = parser.parse_args(argv)
    items = read_image_list(args.train_list)
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.train_list))
    os.makedirs(out_dir, exist_ok=True)
    for fraction in args.fractions:
        subset = class_balanced_subset(items, fraction, args.seed)
        name = f'train_{fraction * 100:g}percent.txt'
        n = write_image_list(osp.join(out_dir, name), subset)
        print(f'{name}: {n} of {len(items)} images')


if __name__ == '__main__':
    main()
