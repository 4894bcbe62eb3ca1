"""Class-balanced labelled subsets (ImageNet 1% / 10%) of an image list.

An image list is mmpretrain's annotation format, one ``path label`` per line
(``meta/train.txt`` of ImageNet). A subset of ``fraction`` keeps
``floor(fraction * N)`` images (ImageNet: 12,811 for 1%, 128,116 for 10%),
spread as evenly as possible over the classes: every class gets
``total // C`` images and ``total % C`` classes (drawn with the seed) one
more. The images of a class are drawn with the same seeded generator, so a
split is a pure function of (list, fraction, seed).
"""
import math
import os.path as osp
import random
from collections import defaultdict
from typing import List, Sequence, Tuple

Item = Tuple[str, int]


def read_image_list(path: str) -> List[Item]:
    """Read ``path label`` lines.

    Args:
        path (str): annotation file.

    Returns:
        list[tuple[str, int]]: ``(image path, label)`` in file order.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a line is not ``path label`` with an integer label.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image list not found: {path}')
    items = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                raise ValueError(f'{path}:{lineno}: expected "path label", '
                                 f'got {line.strip()!r}')
            items.append((parts[0], int(parts[1])))
    if not items:
        raise ValueError(f'image list {path} is empty')
    return items


def class_balanced_subset(items: Sequence[Item], fraction: float,
                          seed: int = 0) -> List[Item]:
    """Draw a class-balanced subset of ``floor(fraction * len(items))``.

    Args:
        items (Sequence[tuple[str, int]]): the full ``(path, label)`` list.
        fraction (float): share of the list to keep, in (0, 1].
        seed (int): seed of the draw. Defaults to 0.

    Returns:
        list[tuple[str, int]]: the subset, in the order of ``items``.

    Raises:
        ValueError: a bad fraction, or a class with fewer images than its
            share.

    Examples:
        >>> items = [(f'{c}/{i}.jpg', c) for c in range(3) for i in range(10)]
        >>> len(class_balanced_subset(items, 0.5, seed=1))
        15
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    total = math.floor(len(items) * fraction + 1e-9)
    by_class = defaultdict(list)
    for index, (_, label) in enumerate(items):
        by_class[label].append(index)
    labels = sorted(by_class)
    base, extra = divmod(total, len(labels))
    if base == 0 and extra == 0:
        raise ValueError(f'fraction {fraction} of {len(items)} images keeps '
                         'no image')
    rng = random.Random(seed)
    roomy = [label for label in labels if len(by_class[label]) > base]
    if len(roomy) < extra:
        raise ValueError(f'{total} images cannot be spread over '
                         f'{len(labels)} classes: too few images per class')
    plus_one = set(rng.sample(roomy, extra))
    keep = []
    for label in labels:
        quota = base + (label in plus_one)
        if quota > len(by_class[label]):
            raise ValueError(f'class {label} has {len(by_class[label])} '
                             f'images, fewer than its share {quota}')
        keep += rng.sample(by_class[label], quota)
    return [items[i] for i in sorted(keep)]


def write_image_list(path: str, items: Sequence[Item]) -> int:
    """Write ``path label`` lines; returns the number written."""
    with open(path, 'w') as f:
        f.writelines(f'{p} {label}\n' for p, label in items)
    return len(items)
