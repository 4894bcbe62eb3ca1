"""Class-balanced 1% / 10% ImageNet-style splits on a synthetic list."""
import os.path as osp
import random
import runpy
from collections import Counter

import pytest

from cld_mm.datasets.semi_split import class_balanced_subset, read_image_list

from utils import REPO

TOOL = osp.join(REPO, 'tools', 'dataset_converters', 'imagenet_semi_split.py')


@pytest.fixture
def train_list(tmp_path):
    """100 classes of 700-1300 images (ImageNet's spread), 99,977 lines."""
    rng = random.Random(1)
    sizes = [rng.randint(700, 1300) for _ in range(100)]
    lines = [f'n{c:08d}/n{c:08d}_{i}.JPEG {c}\n'
             for c, n in enumerate(sizes) for i in range(n)]
    rng.shuffle(lines)
    path = tmp_path / 'train.txt'
    path.write_text(''.join(lines))
    return str(path), sizes


@pytest.mark.parametrize('fraction', [0.01, 0.1])
def test_exact_size_class_balance_and_seed(train_list, fraction):
    path, sizes = train_list
    items = read_image_list(path)
    n = len(items)
    subset = class_balanced_subset(items, fraction, seed=0)
    assert len(subset) == int(n * fraction) == (n * round(fraction * 100)) // 100
    counts = Counter(label for _, label in subset)
    assert len(counts) == 100
    assert max(counts.values()) - min(counts.values()) <= 1
    assert min(counts.values()) == len(subset) // 100
    assert len(set(subset)) == len(subset) and set(subset) <= set(items)
    # labels stay attached to their paths; file order is kept
    assert all(p.startswith(f'n{y:08d}/') for p, y in subset)
    index = {item: i for i, item in enumerate(items)}
    assert [index[x] for x in subset] == sorted(index[x] for x in subset)
    assert class_balanced_subset(items, fraction, seed=0) == subset
    assert class_balanced_subset(items, fraction, seed=1) != subset


def test_tool_writes_the_1_and_10_percent_lists(train_list, tmp_path):
    path, _ = train_list
    out = tmp_path / 'meta'
    runpy.run_path(TOOL)['main']([path, '--out-dir', str(out), '--seed', '3'])
    one = read_image_list(str(out / 'train_1percent.txt'))
    ten = read_image_list(str(out / 'train_10percent.txt'))
    n = len(read_image_list(path))
    assert (len(one), len(ten)) == (n // 100, n // 10)
    assert one == class_balanced_subset(read_image_list(path), 0.01, seed=3)


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.txt'):
        read_image_list(str(tmp_path / 'absent.txt'))
    bad = tmp_path / 'bad.txt'
    bad.write_text('a.jpg 0\nb.jpg cat\n')
    with pytest.raises(ValueError, match='bad.txt:2'):
        read_image_list(str(bad))
    items = [(f'{c}/{i}.jpg', c) for c in range(3) for i in range(10)]
    with pytest.raises(ValueError, match='fraction'):
        class_balanced_subset(items, 0.0)
    skewed = items + [(f'3/{i}.jpg', 3) for i in range(1)]
    with pytest.raises(ValueError, match='class 3 has 1 images'):
        class_balanced_subset(skewed, 0.5)  # 15 over 4 classes: 3 or 4 each
