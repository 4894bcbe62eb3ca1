"""Multi-view augmentation of a uint8 batch on the model's device."""
import numbers
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.logging import MessageHub
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from torch import Tensor

from .transforms import build_view_pipeline, run_pipeline


def view_seed(seed: int, rank: int, iteration: int, call: int = 0) -> int:
    """A 63-bit generator seed from (seed, rank, iteration, call)."""
    words = [int(seed), int(rank), int(iteration), int(call)]
    if min(words) < 0:
        raise ValueError(f'seed, rank, iteration must be >= 0, got {words}')
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


@MODELS.register_module()
class DeviceMultiViewPreprocessor(SelfSupDataPreprocessor):
    """Draws the views of a uint8 image batch on its device, then normalizes.

    The batched counterpart of a recipe's
    ``MultiView(num_views, transforms=[view_pipeline])`` + ``PackInputs`` +
    ``SelfSupDataPreprocessor``: the dataset yields the decoded images
    unchanged (``InMemoryImages``), and in training this module moves the
    batch to the model's device and produces the views there, every sample
    with its own random parameters, then applies ``to_rgb`` and the
    normalization. The view pipeline is the recipe's own list of transform
    configs (same names, same arguments; see
    ``cld_mm.models.data_preprocessors.transforms``), applied in the stored
    channel order, as on the CPU.

    The parameters of an iteration come from a ``torch.Generator`` on the
    device seeded by ``(seed, rank, iteration, call)``; the iteration is the
    runner's (``MessageHub`` ``'iter'``), so a resumed run draws the same
    views, and ranks draw independent ones. ``seed`` is a buffer (saved in
    checkpoints, restored on resume); left ``None`` it is drawn from torch's
    global generator when the model is built, i.e. from the runner's
    ``randomness`` seed, so runs with different seeds see different views.
    ``call`` counts calls within one iteration. Outside a runner an internal
    counter stands for the iteration.

    In evaluation (``training=False``) the batch is only normalized, as
    :class:`SelfSupDataPreprocessor` does.

    Args:
        view_pipeline (list[dict] | list[list[dict]]): the view transforms,
            or one list per view group (with ``num_views`` a list), as
            ``MultiView.transforms``.
        num_views (int | list[int]): views per group. Defaults to 2.
        views (list[dict], optional): alternatively
            ``[dict(num=2, pipeline=[...]), ...]``.
        seed (int, optional): base seed, or None to draw one from torch's
            global generator. Defaults to None.
        mean, std, to_rgb, ...: as :class:`SelfSupDataPreprocessor`
            (0-255 scale, in the order after ``to_rgb``).

    Examples:
        >>> pre = DeviceMultiViewPreprocessor(
        ...     view_pipeline=[dict(type='RandomResizedCrop', scale=32),
        ...                    dict(type='RandomFlip', prob=0.5)],
        ...     num_views=2, mean=[127.5] * 3, std=[127.5] * 3)
        >>> batch = dict(inputs=torch.zeros(4, 3, 32, 32, dtype=torch.uint8),
        ...              data_samples=None)
        >>> [v.shape for v in pre(batch, training=True)['inputs']]
        [torch.Size([4, 3, 32, 32]), torch.Size([4, 3, 32, 32])]
    """

    def __init__(self,
                 view_pipeline: Optional[list] = None,
                 num_views: Union[int, Sequence[int]] = 2,
                 views: Optional[List[dict]] = None,
                 seed: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if (views is None) == (view_pipeline is None):
            raise ValueError('give either view_pipeline (with num_views) or '
                             'views=[dict(num=..., pipeline=[...])]')
        if views is not None:
            groups = []
            for v in views:
                if not isinstance(v, dict) or set(v) != {'num', 'pipeline'}:
                    raise ValueError('each entry of views is dict(num=..., '
                                     f'pipeline=[...]), got {v!r}')
                groups.append((v['num'], v['pipeline']))
        else:
            nested = len(view_pipeline) > 0 and all(
                isinstance(p, (list, tuple)) for p in view_pipeline)
            pipelines = list(view_pipeline) if nested else [view_pipeline]
            nums = [num_views] if isinstance(num_views, numbers.Number) \
                else list(num_views)
            if len(nums) != len(pipelines):
                if len(pipelines) == 1:
                    pipelines = pipelines * len(nums)
                else:
                    raise ValueError(
                        f'num_views {num_views} does not match the '
                        f'{len(pipelines)} view pipelines')
            groups = list(zip(nums, pipelines))
        self.view_groups = []
        for num, pipeline in groups:
            if not isinstance(num, numbers.Integral) or num < 1:
                raise ValueError(f'a number of views must be an int >= 1, '
                                 f'got {num!r}')
            self.view_groups.append((int(num), build_view_pipeline(pipeline)))
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1, )).item())
        if not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f'seed must be an int >= 0, got {seed!r}')
        self.register_buffer('seed', torch.tensor(int(seed),
                                                  dtype=torch.int64))
        self._calls = 0          # iterations seen outside a runner
        self._last_iter = None   # (iteration, calls within it)

    @property
    def num_views(self) -> int:
        return sum(n for n, _ in self.view_groups)

    def _iteration_and_call(self) -> tuple:
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter') if hub is not None else None
        if it is None:
            it = self._calls
            self._calls += 1
        call = 0
        if self._last_iter is not None and self._last_iter[0] == it:
            call = self._last_iter[1] + 1
        self._last_iter = (it, call)
        return int(it), call

    def generator(self, device: torch.device) -> torch.Generator:
        """The generator of this call, seeded by (seed, rank, iter, call)."""
        it, call = self._iteration_and_call()
        gen = torch.Generator(device=device)
        gen.manual_seed(view_seed(int(self.seed), get_rank(), it, call))
        return gen

    def augment(self, images: Tensor, gen: torch.Generator) -> List[Tensor]:
        """uint8 (N, C, H, W) -> list of float views (N, C, h, w) in [0, 1]."""
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise TypeError('DeviceMultiViewPreprocessor takes uint8 images '
                            f'(N, C, H, W), got {images.dtype} '
                            f'{tuple(images.shape)}')
        x = images.float().div_(255.)
        out = []
        for num, ops in self.view_groups:
            for _ in range(num):
                out.append(run_pipeline(ops, x, gen))
        return out

    def _normalize(self, view: Tensor) -> Tensor:
        if self._channel_conversion:
            view = view[:, [2, 1, 0], ...]
        view = view * 255.
        if self._enable_normalize:
            view = (view - self.mean) / self.std
        return view

    def forward(self, data: dict, training: bool = False) -> dict:
        if not training:
            return super().forward(data, training)
        if not isinstance(data, dict) or 'inputs' not in data:
            raise TypeError('DeviceMultiViewPreprocessor takes a collated '
                            "dict with 'inputs' (default_collate)")
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(t.shape) for t in inputs}
            if len(shapes) != 1:
                raise ValueError('DeviceMultiViewPreprocessor stacks images '
                                 f'of one size, got shapes {sorted(shapes)}')
            inputs = torch.stack(list(inputs))
        batch = self.cast_data(dict(inputs=inputs,
                                    data_samples=data.get('data_samples')))
        images = batch['inputs']
        views = self.augment(images, self.generator(images.device))
        return {'inputs': [self._normalize(v) for v in views],
                'data_samples': batch['data_samples']}
