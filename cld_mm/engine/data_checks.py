"""Checks on the training set before the first iteration."""
import os.path as osp
from typing import List

MAX_LISTED = 5


def _image_paths(dataset) -> List[str]:
    """The local ``img_path`` of every item of an mmengine dataset."""
    get = getattr(dataset, 'get_data_info', None)
    if get is None:
        return []
    paths = []
    for i in range(len(dataset)):
        path = get(i).get('img_path')
        if isinstance(path, str) and '://' not in path:
            paths.append(path)
    return paths


def check_train_dataset(dataset, batch_size: int, drop_last: bool,
                        world_size: int = 1, check_files: bool = True) -> None:
    """Raise if ``dataset`` cannot feed one training iteration.

    Checks that it is not empty, that it holds at least one global batch
    when incomplete batches are dropped, and that no image file is missing
    or empty (zero bytes: an interrupted copy). Decoding errors of a
    corrupted image are reported by the loading transform, with its path.

    Args:
        dataset: the training dataset (``__len__``, ``get_data_info``).
        batch_size (int): samples per process and iteration.
        drop_last (bool): the dataloader's ``drop_last``.
        world_size (int): number of processes. Defaults to 1.
        check_files (bool): stat every image file (about 1.6 s per 50k
            local files on 2 busy cores). Defaults to True.

    Raises:
        ValueError: empty dataset, fewer images than a global batch with
            ``drop_last``, or empty image files.
        FileNotFoundError: image files that do not exist.
    """
    n = len(dataset)
    ann = getattr(dataset, 'ann_file', '') or ''
    name = f'training set {ann}' if ann else 'training set'
    if n == 0:
        raise ValueError(f'{name} is empty: it lists no images')
    if drop_last and n < batch_size * world_size:
        raise ValueError(
            f'{name} has {n} images, fewer than one global batch '
            f'({world_size} processes x batch_size {batch_size}) with '
            'drop_last=True: no training iteration would run')
    if not check_files:
        return
    paths = _image_paths(dataset)
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} image(s) of the {name} do not exist: '
            + ', '.join(missing[:MAX_LISTED]))
    empty = [p for p in paths if osp.getsize(p) == 0]
    if empty:
        raise ValueError(f'{len(empty)} image file(s) of the {name} are empty '
                         '(0 bytes, truncated): '
                         + ', '.join(empty[:MAX_LISTED]))


def check_annotation_file(path: str) -> None:
    """Raise ``ValueError`` if an existing annotation list has no entries."""
    if osp.isfile(path):
        with open(path) as f:
            if not any(line.strip() for line in f):
                raise ValueError(f'annotation file {path} is empty: the '
                                 'dataset would have no images')
