"""A val/test dataset for kNN evaluation: training images as memory, then queries."""
import copy

from mmengine.dataset import force_full_init
from mmpretrain.registry import DATASETS

MEMORY, QUERY = 0, 1


@DATASETS.register_module()
class KNNDataset:
    """Concatenation of a memory set (role 0) and a query set (role 1).

    Both are built with test transforms. Each item's data sample gets the
    metainfo ``knn_role`` read by :class:`cld_mm.evaluation.KNNAccuracy`.

    Args:
        memory (dict): config of the labeled training set (test pipeline).
        query (dict): config of the labeled test set (test pipeline).
    """

    def __init__(self, memory: dict, query: dict, lazy_init: bool = False):
        self.memory = DATASETS.build(memory) if isinstance(memory, dict) \
            else memory
        self.query = DATASETS.build(query) if isinstance(query, dict) \
            else query
        self._metainfo = copy.deepcopy(self.query.metainfo)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        for ds in (self.memory, self.query):
            if hasattr(ds, 'full_init'):
                ds.full_init()
        if len(self.memory) == 0 or len(self.query) == 0:
            raise ValueError(f'KNNDataset needs non-empty memory and query '
                             f'sets, got {len(self.memory)} and '
                             f'{len(self.query)} images')
        self._fully_initialized = True

    @force_full_init
    def __len__(self) -> int:
        return len(self.memory) + len(self.query)

    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        n = len(self.memory)
        if idx < n:
            item, role = self.memory[idx], MEMORY
        else:
            item, role = self.query[idx - n], QUERY
        item['data_samples'].set_metainfo(dict(knn_role=role))
        return item
