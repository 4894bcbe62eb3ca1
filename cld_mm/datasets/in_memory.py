"""A dataset decoded once into one uint8 array, cached on disk.

The fast data path: :class:`InMemoryImages` wraps a dataset config (cld_mm's
CIFAR folder lists, mmpretrain's ``CIFAR10``/``CIFAR100`` binary releases,
cld_mm's ``STL10``, any of them inside ``LongTailDataset``), decodes every
image once with that dataset's own loader into a ``(N, C, H, W)`` uint8
array, saves it as ``.npy`` and from then on yields the raw images with no
per-image transform. The augmentation happens on the batch, on the training
device (``DeviceMultiViewPreprocessor``).
"""
import copy
import hashlib
import json
import os
import os.path as osp
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info, is_distributed
from mmpretrain.registry import DATASETS
from mmpretrain.structures import DataSample

CACHE_ENV = 'CLD_MM_ARRAY_CACHE'
DEFAULT_CACHE = osp.join('~', '.cache', 'cld_mm', 'arrays')
NO_LABEL = -1


def default_cache_dir() -> str:
    """``$CLD_MM_ARRAY_CACHE`` if set, else ``~/.cache/cld_mm/arrays``."""
    return osp.expanduser(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def _innermost(cfg: dict) -> dict:
    """The config dict that holds the ``pipeline`` (through wrappers)."""
    node = cfg
    while 'pipeline' not in node and isinstance(node.get('dataset'), dict):
        node = node['dataset']
    return node


def loading_transforms(pipeline) -> list:
    """The decoding steps (``Load*`` transforms) of a pipeline, only."""
    return [copy.deepcopy(t) for t in (pipeline or ())
            if str(t.get('type', '')).split('.')[-1].startswith('Load')]


def _sha1_file(path: str) -> str:
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def _files_fingerprint(root: str) -> List[Tuple[str, int]]:
    """(relative path, size) of every file under ``root`` (hidden skipped)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        for name in sorted(filenames):
            if not name.startswith('.'):
                path = osp.join(dirpath, name)
                out.append((osp.relpath(path, root), osp.getsize(path)))
    return out


def cache_key(dataset_cfg: dict) -> str:
    """sha1 of what decides the decoded images and their order.

    The dataset config (every wrapper, the type, the split, the loading
    transforms; not the augmentation) with each annotation list replaced by
    the sha1 of its content. A config without an annotation list (binary
    releases, folder scans) adds the relative path and size of every file
    under its ``data_root``.
    """
    cfg = copy.deepcopy(dataset_cfg)
    node, nodes = cfg, []
    while isinstance(node, dict):
        nodes.append(node)
        node = node.get('dataset')
    for n in nodes:
        if 'pipeline' in n:
            n['pipeline'] = loading_transforms(n['pipeline'])
        root = n.pop('data_root', None)
        ann = n.get('ann_file')
        if ann:
            path = ann if osp.isabs(ann) or root is None \
                else osp.join(root, ann)
            if not osp.exists(path):
                raise FileNotFoundError(f'annotation list not found: {path}')
            n['ann_file'] = 'sha1:' + _sha1_file(path)
        elif root is not None and 'type' in n and n is nodes[-1]:
            if not osp.isdir(root):
                raise FileNotFoundError(f'data_root not found: {root}')
            n['files'] = _files_fingerprint(root)
    blob = json.dumps(cfg, sort_keys=True, default=repr).encode()
    return hashlib.sha1(blob).hexdigest()


def _to_chw(img: np.ndarray, idx: int) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        raise TypeError(f'image {idx}: the loader gave {type(img).__name__} '
                        f'{getattr(img, "dtype", "")}, expected a uint8 array')
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3:
        raise ValueError(f'image {idx}: expected (H, W, C), got {img.shape}')
    return img.transpose(2, 0, 1)


@DATASETS.register_module()
class InMemoryImages:
    """Raw uint8 images of a dataset, decoded once and cached as ``.npy``.

    The wrapped dataset is built with only the loading transforms of its
    pipeline (``LoadImageFromFile`` for folder lists, none for the binary
    releases, whose arrays are the images), and every image is decoded once,
    in dataset order, into a ``(N, C, H, W)`` uint8 array (channels as the
    loader gives them: BGR for files read with OpenCV and for cld_mm's CIFAR
    and STL-10 readers; the preprocessor's ``to_rgb`` is unchanged). The array
    and the labels are saved under ``cache_dir`` as
    ``<type>-<key>.npy`` / ``<type>-<key>.labels.npy``, ``key`` =
    :func:`cache_key`; files are written to a temporary name then renamed,
    so a crashed decode leaves no half file. Later builds memory-map the
    array (no decoding; :attr:`decoded` counts the images decoded by this
    build). In a distributed run the local rank 0 decodes, the others wait.

    Items are what ``PackInputs`` gives without augmentation:
    ``dict(inputs=(C, H, W) uint8 tensor, data_samples=DataSample)`` with
    ``sample_idx`` (the index in this dataset, which memory banks use) and
    ``gt_label`` (absent for unlabeled images). It is a plain indexable
    dataset: mmengine's samplers (``DefaultSampler``, ``InfiniteSampler``,
    sharded and resumable) work on it unchanged.

    Args:
        dataset (dict): config of the dataset to decode, as in the CPU
            recipe (its augmentation transforms are ignored).
        cache_dir (str, optional): folder of the arrays. Defaults to
            ``$CLD_MM_ARRAY_CACHE`` or ``~/.cache/cld_mm/arrays``.
        num_threads (int): decoding threads. Defaults to 4.
        lazy_init (bool): defer the decode to :meth:`full_init`.
            Defaults to False.
    """

    def __init__(self, dataset: dict, cache_dir: Optional[str] = None,
                 num_threads: int = 4, lazy_init: bool = False) -> None:
        if not isinstance(dataset, dict) or 'type' not in dataset:
            raise TypeError('InMemoryImages needs the config dict of the '
                            f'dataset to decode, got {type(dataset).__name__}')
        if num_threads < 1:
            raise ValueError(f'num_threads must be >= 1, got {num_threads}')
        self.dataset_cfg = copy.deepcopy(dict(dataset))
        self.cache_dir = osp.expanduser(cache_dir) if cache_dir \
            else default_cache_dir()
        self.num_threads = num_threads
        self.decoded = 0
        self._images = None
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    # ----------------------------------------------------------- building
    def _build_source(self):
        cfg = copy.deepcopy(self.dataset_cfg)
        inner = _innermost(cfg)
        inner['pipeline'] = loading_transforms(inner.get('pipeline'))
        return DATASETS.build(cfg)

    @property
    def paths(self) -> Tuple[str, str]:
        """(images .npy, labels .npy) of this dataset's cache entry."""
        stem = osp.join(self.cache_dir, f'{self._type}-{self.key[:20]}')
        return stem + '.npy', stem + '.labels.npy'

    def _decode(self, source) -> Tuple[np.ndarray, np.ndarray]:
        n = len(source)
        if n == 0:
            raise ValueError('InMemoryImages: the wrapped dataset is empty')

        def load(i):
            item = source[i]
            img = item['img'] if isinstance(item, dict) else None
            if img is None:
                raise KeyError(f'item {i} of the wrapped dataset has no '
                               '"img": its pipeline must decode the image')
            label = item.get('gt_label', NO_LABEL)
            label = NO_LABEL if label is None else int(np.asarray(label)
                                                        .reshape(-1)[0])
            return _to_chw(img, i), label

        first, _ = load(0)
        images = np.empty((n, ) + first.shape, np.uint8)
        labels = np.empty(n, np.int64)
        with ThreadPoolExecutor(self.num_threads) as pool:
            for i, (img, label) in enumerate(pool.map(load, range(n),
                                                      chunksize=256)):
                if img.shape != first.shape:
                    raise ValueError(
                        f'InMemoryImages stacks equal-sized images: image '
                        f'{i} is {img.shape}, image 0 {first.shape}')
                images[i], labels[i] = img, label
        self.decoded = n
        return images, labels

    def _write(self, images: np.ndarray, labels: np.ndarray) -> None:
        os.makedirs(self.cache_dir, exist_ok=True)
        img_path, lab_path = self.paths
        for arr, path in ((labels, lab_path), (images, img_path)):
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix='.tmp')
            try:
                with os.fdopen(fd, 'wb') as f:
                    np.save(f, arr)
                os.chmod(tmp, 0o644)  # mkstemp's 0600: readable like a file
                os.replace(tmp, path)
            except BaseException:
                if osp.exists(tmp):
                    os.remove(tmp)
                raise

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        self._type = str(_innermost(self.dataset_cfg).get(
            'type', 'dataset')).split('.')[-1]
        self.key = cache_key(self.dataset_cfg)
        source = self._build_source()
        self.metainfo = copy.deepcopy(getattr(source, 'metainfo', {}))
        img_path, lab_path = self.paths
        local_rank = int(os.environ.get('LOCAL_RANK', get_dist_info()[0]))
        if local_rank == 0 and not osp.exists(img_path):
            self._write(*self._decode(source))
        if is_distributed():
            barrier()
        if not osp.exists(img_path):
            raise FileNotFoundError(
                f'decoded array {img_path} missing after the local rank 0 '
                'wrote it: cache_dir must be shared by the ranks of a node')
        self.labels = np.load(lab_path)
        self._open()
        if self._images.shape[0] != len(source) or \
                self.labels.shape[0] != len(source):
            raise ValueError(
                f'cached array {img_path} holds {self._images.shape[0]} '
                f'images, the dataset {len(source)}: delete the stale file')
        self._fully_initialized = True

    def _open(self) -> None:
        self._images = np.load(self.paths[0], mmap_mode='r')

    # ---------------------------------------------------------- interface
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_images'] = None  # workers re-open the memory map
        return state

    @property
    def images(self) -> np.ndarray:
        """The ``(N, C, H, W)`` uint8 array (memory-mapped, read-only)."""
        if self._images is None:
            self._open()
        return self._images

    def __len__(self) -> int:
        self.full_init()
        return int(self.labels.shape[0])

    def get_cat_ids(self, idx: int) -> List[int]:
        label = int(self.labels[idx])
        return [] if label == NO_LABEL else [label]

    def __getitem__(self, idx: int) -> dict:
        self.full_init()
        if idx < 0:
            idx += len(self)
        sample = DataSample()
        sample.set_metainfo(dict(sample_idx=idx))
        label = int(self.labels[idx])
        if label != NO_LABEL:
            sample.set_gt_label(label)
        inputs = torch.from_numpy(np.array(self.images[idx]))
        return dict(inputs=inputs, data_samples=sample)
