"""Put CIFAR-10 into the folder layout the configs read (data/cifar10 by default).

From the shared JPEG tarball:
    python tools/dataset_converters/prepare_cifar10.py \
        --tar ../shared/data/cifar10_jpg.tar.gz
From the original python batches (cifar-10-python.tar.gz, extracted):
    python tools/dataset_converters/prepare_cifar10.py \
        --batches path/to/cifar-10-batches-py
"""
import argparse

from cld_mm.datasets import prepare_cifar10_folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--tar', help='JPEG tarball with train/ and test/')
    src.add_argument('--batches', help='folder of data_batch_1..5, test_batch')
    parser.add_argument('--out', default='data/cifar10', help='destination')
    args = parser.parse_args()
    sizes = prepare_cifar10_folder(args.out, tar=args.tar, batches=args.batches)
    for name, n in sizes.items():
        print(f'{args.out}/meta/{name}.txt: {n} images')


if __name__ == '__main__':
    main()
