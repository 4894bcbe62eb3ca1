"""Batched view transforms built from the CPU recipes' ``view_pipeline``.

Each class takes the arguments of the mmcv / mmpretrain transform of the same
name (so a recipe's ``view_pipeline`` builds unchanged) and is called on a
float batch ``(N, C, H, W)`` in [0, 1] with a ``torch.Generator``; it draws
every sample's parameters from that generator (:mod:`.samplers`) and applies
the batched op (:mod:`.functional`). Channels are in the order the images
are stored, as on the CPU, where the pipeline runs before the data
preprocessor's ``to_rgb``.
"""
import numbers
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Generator, Tensor

from . import functional as F
from . import samplers as S

VIEW_TRANSFORMS: Dict[str, type] = {}


def register(cls: type) -> type:
    VIEW_TRANSFORMS[cls.__name__] = cls
    return cls


def build_view_transform(cfg: dict) -> Callable:
    """Build one transform from a pipeline entry ``dict(type=..., ...)``."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError('a view transform is a dict with a "type", '
                        f'got {cfg!r}')
    cfg = dict(cfg)
    name = str(cfg.pop('type')).split('.')[-1]
    if name not in VIEW_TRANSFORMS:
        raise ValueError(f'view transform {name!r} has no batched version; '
                         f'supported: {sorted(VIEW_TRANSFORMS)}')
    try:
        return VIEW_TRANSFORMS[name](**cfg)
    except TypeError as err:
        raise TypeError(f'{name}: {err}') from None


def build_view_pipeline(cfgs: Sequence[dict]) -> List[Callable]:
    if isinstance(cfgs, dict) or not isinstance(cfgs, (list, tuple)):
        raise TypeError('a view pipeline is a list of transform dicts, got '
                        f'{type(cfgs).__name__}')
    return [build_view_transform(c) for c in cfgs]


def run_pipeline(ops: Sequence[Callable], img: Tensor,
                 gen: Generator) -> Tensor:
    for op in ops:
        img = op(img, gen)
    return img


def _check_prob(prob: float, name: str = 'prob') -> float:
    if not 0. <= float(prob) <= 1.:
        raise ValueError(f'{name} must be in [0, 1], got {prob}')
    return float(prob)


def _where(mask: Tensor, new: Tensor, old: Tensor) -> Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), new, old)


def _subset_indices(mask: Tensor) -> Tensor:
    return mask.nonzero().squeeze(1)


# ---------------------------------------------------------------- geometry
@register
class RandomResizedCrop:
    """mmpretrain's ``RandomResizedCrop`` (torchvision's sampling rule).

    Parameters: :func:`.samplers.resized_crop_params`. Resampling:
    :func:`.functional.resized_crop`, PIL's filters (``backend='pillow'``,
    the recipes' setting). kornia's ``RandomResizedCrop`` is not used: its
    sampler never returns a crop of the full width or height, unlike
    torchvision's and mmpretrain's.
    """

    def __init__(self, scale: Union[int, Sequence[int]],
                 crop_ratio_range: Sequence[float] = (0.08, 1.0),
                 aspect_ratio_range: Sequence[float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10, interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> None:
        self.size = (int(scale), int(scale)) if isinstance(
            scale, numbers.Number) else tuple(int(s) for s in scale)
        if len(self.size) != 2 or min(self.size) <= 0:
            raise ValueError(f'scale must be a positive int or (h, w), '
                             f'got {scale}')
        if interpolation not in F.FILTER_SUPPORT:
            raise ValueError(f'RandomResizedCrop: interpolation '
                             f'{interpolation!r} is not supported on the '
                             f'device; use one of {sorted(F.FILTER_SUPPORT)}')
        if backend not in ('cv2', 'pillow'):
            raise ValueError(f'backend must be cv2 or pillow, got {backend!r}')
        self.scale_range = tuple(crop_ratio_range)
        self.ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = int(max_attempts)
        self.interpolation = interpolation

    def __call__(self, img: Tensor, gen: Generator) -> Tensor:
        n, _, h, w = img.shape
        box = S.resized_crop_params(gen, n, h, w, self.scale_range,
                                    self.ratio_range, self.max_attempts,
                                    img.device)
        return F.resized_crop(img, *box, self.size, self.interpolation)


@register
class RandomFlip:
    """mmcv's ``RandomFlip`` with one direction (per-sample coin)."""

    def __init__(self, prob: float = 0.5,
                 direction: str = 'horizontal') -> None:
        self.prob = _check_prob(prob)
        if direction not in ('horizontal', 'vertical'):
            raise ValueError('RandomFlip on the device takes direction '
                             f"'horizontal' or 'vertical', got {direction!r}")
        self.flip = F.hflip if direction == 'horizontal' else F.vflip

    def __call__(self, img: Tensor, gen: Generator) -> Tensor:
        mask = S.bernoulli(gen, img.shape[0], self.prob, img.device)
        return _where(mask, self.flip(img), img)


# ------------------------------------------------------------------ colour
def _jitter_range(value, name: str, center: float, bound):
    """mmpretrain ``ColorJitter._set_range``: (low, high) or None."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f'If {name} is a single number, it must be '
                             'non negative.')
        value = (center - float(value), center + float(value))
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f'{name} should be a single number or a '
                        'list/tuple with length 2.')
    value = tuple(float(v) for v in np.clip(value, bound[0], bound[1]))
    return None if value[0] == value[1] == center else value


@register
class ColorJitter:
    """mmpretrain's ``ColorJitter``: per-sample factors and per-sample order.

    Each sample draws its four factors and its own permutation of
    (brightness, contrast, saturation, hue), as the CPU transform does per
    image; kornia's ``ColorJitter`` draws one order for the whole batch, so
    it is not used. Both mmcv backends read the array as BGR (``pillow``
    reverses the channels for PIL, ``cv2`` converts with ``COLOR_BGR2*``),
    so the contrast, saturation and hue formulas here take the stored
    channels as B, G, R. The backends differ only in rounding: ``cv2``
    truncates brightness and contrast results to uint8, PIL rounds; both
    round the grey image and the contrast mean to integers and quantize
    H, S, V to uint8 for the hue shift, which this float version does not.
    """

    OPS = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation,
           F.adjust_hue)

    def __init__(self, brightness=0., contrast=0., saturation=0., hue=0.,
                 backend: str = 'pillow') -> None:
        if backend not in ('pillow', 'cv2'):
            raise ValueError(f'backend must be pillow or cv2, got {backend!r}')
        inf = float('inf')
        self.ranges = (_jitter_range(brightness, 'brightness', 1, (0, inf)),
                       _jitter_range(contrast, 'contrast', 1, (0, inf)),
                       _jitter_range(saturation, 'saturation', 1, (0, inf)),
                       _jitter_range(hue, 'hue', 0, (-0.5, 0.5)))

    def draw(self, gen: Generator, n: int, device=None) -> tuple:
        """Per-sample parameters: (order (n, 4) int64 on the CPU, a
        permutation of 0-3 = brightness, contrast, saturation, hue per row;
        list of 4 factor tensors (n,) or None for a disabled op)."""
        order = S.random_permutations(gen, n, 4, device).cpu()
        factors = [None if r is None else S.uniform(gen, n, *r, device)
                   for r in self.ranges]
        return order, factors

    def apply(self, img: Tensor, order: Tensor, factors: list) -> Tensor:
        """Apply the ops of each sample in its order: (N, 3, H, W) BGR."""
        dev = img.device
        if img.shape[1] != 3:
            raise ValueError(f'ColorJitter needs 3 channels, got {img.shape}')
        x = img.flip(1)  # stored BGR -> RGB, as mmcv reads it (a copy)
        # round ``pos``: each op on the samples that run it at ``pos``; the
        # groups of one round are disjoint, so they update x in place
        for pos in range(4):
            for k, fn in enumerate(self.OPS):
                if factors[k] is None:
                    continue
                idx = _subset_indices(order[:, pos] == k).to(dev)
                if idx.numel():
                    x.index_copy_(0, idx, fn(x.index_select(0, idx),
                                             factors[k][idx].float()))
        return x.flip(1)

    def __call__(self, img: Tensor, gen: Generator) -> Tensor:
        if img.shape[1] != 3:
            raise ValueError(f'ColorJitter needs 3 channels, got {img.shape}')
        return self.apply(img, *self.draw(gen, img.shape[0], img.device))


@register
class RandomGrayscale:
    """mmcv's ``RandomGrayscale(keep_channels=True)``; weights in stored
    channel order (see :func:`.functional.grayscale`)."""

    def __init__(self, prob: float = 0.1, keep_channels: bool = False,
                 channel_weights: Sequence[float] = (1., 1., 1.),
                 color_format: str = 'bgr') -> None:
        self.prob = _check_prob(prob)
        if not keep_channels:
            raise ValueError('RandomGrayscale on the device needs '
                             'keep_channels=True: a batch keeps its channels')
        if color_format not in ('bgr', 'rgb'):
            raise ValueError(f'color_format {color_format!r} not supported '
                             'on the device (bgr, rgb)')
        self.weights = tuple(float(w) for w in channel_weights)

    def __call__(self, img: Tensor, gen: Generator) -> Tensor:
        mask = S.bernoulli(gen, img.shape[0], self.prob, img.device)
        return _where(mask, F.grayscale(img, self.weights), img)


class _Magnitude:
    """mmpretrain ``BaseAugTransform``'s magnitude rule, per sample."""

    def __init__(self, value, prob, magnitude_level=10, magnitude_range=None,
                 magnitude_std=0., total_level=10, name='value') -> None:
        if (value is None) == (magnitude_range is None):
            raise ValueError(f'Please specify only one of `{name}` and '
                             '`magnitude_range`.')
        if not (magnitude_std == 'inf' or
                isinstance(magnitude_std, numbers.Number)):
            raise ValueError(f"magnitude_std must be a number or 'inf', "
                             f'got {magnitude_std!r}')
        self.value = value
        self.prob = _check_prob(prob)
        self.level = float(magnitude_level)
        self.range = magnitude_range
        self.std = magnitude_std
        self.total = float(total_level)

    def draw(self, gen: Generator, n: int, device) -> Tensor:
        if self.value is not None:
            return torch.full((n, ), float(self.value), dtype=torch.float64,
                              device=device)
        if self.std == 'inf':
            m = S.uniform(gen, n, 0., self.level, device)
        elif self.std > 0:
            m = self.level + self.std * torch.randn(
                n, generator=gen, device=device, dtype=torch.float64)
            m = m.clamp(0, self.total)
        else:
            m = torch.full((n, ), self.level, dtype=torch.float64,
                           device=device)
        lo, hi = self.range
        return m / self.total * (hi - lo) + lo


@register
class GaussianBlur:
    """mmpretrain's ``GaussianBlur`` (PIL's box-approximated Gaussian,
    :func:`.functional.pil_gaussian_blur`); disabled samples get radius 0,
    which is the identity."""

    def __init__(self, radius: Optional[float] = None, prob: float = 0.5,
                 **magnitude) -> None:
        magnitude.pop('random_negative_prob', None)  # forced to 0 on the CPU
        self.mag = _Magnitude(radius, prob, name='radius', **magnitude)

    def __call__(self, img: Tensor, gen: Generator) -> Tensor:
        n, dev = img.shape[0], img.device
        on = S.bernoulli(gen, n, self.mag.prob, dev)
        sigma = self.mag.draw(gen, n, dev)
        return F.pil_gaussian_blur(img, torch.where(on, sigma,
                                                    torch.zeros_like(sigma)))


@register
class Solarize:
    """mmpretrain's ``Solarize`` (kornia's ``solarize``), per-sample coin."""

    def __init__(self, thr: Optional[float] = None, prob: float = 0.5,
                 **magnitude) -> None:
        magnitude.pop('random_negative_prob', None)
        self.mag = _Magnitude(thr, prob, name='thr', **magnitude)

    def __call__(self, img: Tensor, gen: Generator) -> Tensor:
        n, dev = img.shape[0], img.device
        on = S.bernoulli(gen, n, self.mag.prob, dev)
        thr = self.mag.draw(gen, n, dev)
        return _where(on, F.solarize(img, thr), img)


@register
class RandomErasing:
    """mmpretrain's ``RandomErasing`` (its box rule:
    :func:`.samplers.erasing_params`).

    ``mode='const'``: the box takes ``fill_color`` cast to uint8 as numpy
    does (truncated: the recipe's mean colour 113.8575 fills 113);
    ``mode='rand'``: uniform integers 0-255 per pixel, or with ``fill_std``
    ``clip(int(N(fill_color, fill_std)), 0, 255)``.
    """

    def __init__(self, erase_prob: float = 0.5, min_area_ratio: float = 0.02,
                 max_area_ratio: float = 0.4,
                 aspect_range: Union[float, Sequence[float]] = (3 / 10,
                                                                10 / 3),
                 mode: str = 'const', fill_color=(128, 128, 128),
                 fill_std=None) -> None:
        self.prob = _check_prob(erase_prob, 'erase_prob')
        if not 0. <= min_area_ratio <= max_area_ratio <= 1.:
            raise ValueError('need 0 <= min_area_ratio <= max_area_ratio <= '
                             f'1, got {min_area_ratio}, {max_area_ratio}')
        if isinstance(aspect_range, numbers.Number):
            a = min(aspect_range, 1 / aspect_range)
            aspect_range = (a, 1 / a)
        if not (len(aspect_range) == 2 and 0 < aspect_range[0] <=
                aspect_range[1]):
            raise ValueError(f'aspect_range must be (min, max) > 0, got '
                             f'{aspect_range}')
        if mode not in ('const', 'rand'):
            raise ValueError(f"mode must be 'const' or 'rand', got {mode!r}")
        if isinstance(fill_color, numbers.Number):
            fill_color = [fill_color] * 3
        if isinstance(fill_std, numbers.Number):
            fill_std = [fill_std] * 3
        self.area = (float(min_area_ratio), float(max_area_ratio))
        self.aspect = tuple(float(a) for a in aspect_range)
        self.mode = mode
        self.fill_color = [float(c) for c in fill_color]
        self.fill_u8 = np.array(fill_color, dtype=np.float64).astype(
            np.uint8).tolist()
        self.fill_std = None if fill_std is None else [float(s)
                                                       for s in fill_std]

    def _fill(self, gen: Generator, img: Tensor) -> Tensor:
        n, c, h, w = img.shape
        dev = img.device
        if self.mode == 'const':
            return torch.tensor(self.fill_u8, dtype=img.dtype, device=dev
                                ).view(1, c, 1, 1).expand(n, c, 1, 1) / 255.
        if self.fill_std is None:
            v = torch.floor(256 * torch.rand(
                n, c, h, w, generator=gen, device=dev, dtype=torch.float64))
        else:
            mean = torch.tensor(self.fill_color, dtype=torch.float64,
                                device=dev).view(1, c, 1, 1)
            std = torch.tensor(self.fill_std, dtype=torch.float64,
                               device=dev).view(1, c, 1, 1)
            v = mean + std * torch.randn(n, c, h, w, generator=gen,
                                         device=dev, dtype=torch.float64)
            v = torch.trunc(v).clamp(0, 255)
        return (v / 255.).to(img.dtype)

    def __call__(self, img: Tensor, gen: Generator) -> Tensor:
        n, _, h, w = img.shape
        on = S.bernoulli(gen, n, self.prob, img.device)
        top, left, eh, ew = S.erasing_params(gen, n, h, w, self.area,
                                             self.aspect, img.device)
        eh = torch.where(on, eh, torch.zeros_like(eh))
        return F.erase(img, top, left, eh, ew, self._fill(gen, img))


@register
class RandomApply:
    """mmcv's ``RandomApply``: the inner transforms on a random subset."""

    def __init__(self, transforms: Sequence[dict], prob: float = 0.5) -> None:
        self.prob = _check_prob(prob)
        self.transforms = build_view_pipeline(transforms)

    def __call__(self, img: Tensor, gen: Generator) -> Tensor:
        mask = S.bernoulli(gen, img.shape[0], self.prob, img.device)
        idx = _subset_indices(mask)
        if idx.numel() == 0:
            return img
        sub = run_pipeline(self.transforms, img.index_select(0, idx), gen)
        if sub.shape[1:] != img.shape[1:]:
            raise ValueError('RandomApply cannot wrap a transform that '
                             'changes the image size on the device')
        return img.index_copy(0, idx, sub)
