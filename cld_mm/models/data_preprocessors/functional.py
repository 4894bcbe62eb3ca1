"""Batched image operations with per-sample parameters (pure functions).

Every function takes a float batch ``(N, C, H, W)`` with values in ``[0, 1]``
(``uint8 / 255``) and per-sample parameter tensors of length ``N`` on the same
device, and returns a new batch. No randomness, no config, no device calls:
the random parameters come from :mod:`.samplers`, the config from
:mod:`.transforms`.

The reference semantics are those of the ops the CPU recipes run (mmcv and
mmpretrain with the ``pillow`` backend, i.e. PIL), which for the colour ops
are torchvision's functional formulas; each docstring says where the batched
op differs and by how much.
"""
import math
from typing import Sequence

import kornia.enhance as KE
import torch
from torch import Tensor

# torchvision's (and PIL's L conversion) luma weights, RGB order
RGB_LUMA = (0.2989, 0.587, 0.114)


def _per_sample(v: Tensor, ndim: int = 4) -> Tensor:
    """Reshape a length-N parameter for broadcasting against (N, C, H, W)."""
    return v.reshape((-1, ) + (1, ) * (ndim - 1))


# ----------------------------------------------------------------- geometry
def _resample_filter(x: Tensor, interpolation: str) -> Tensor:
    """PIL's resampling filters (bilinear: triangle; bicubic: a = -0.5)."""
    x = x.abs()
    if interpolation == 'bilinear':
        return (1 - x).clamp(min=0)
    a = -0.5
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return torch.where(x < 1, near, torch.where(x < 2, far,
                                                torch.zeros_like(x)))


FILTER_SUPPORT = {'bilinear': 1.0, 'bicubic': 2.0}


def resample_weights(start: Tensor, length: Tensor, out_size: int,
                     in_size: int, interpolation: str = 'bilinear') -> Tensor:
    """Rows of the 1-D resampling operator of a crop, as PIL computes them.

    Output pixel ``j`` of sample ``n`` is centred at ``c = (j + 0.5) * s``
    (``s = length / out_size``) inside the crop ``[start, start + length)``;
    source pixel ``x`` of the crop weighs ``filter((x + 0.5 - c) / max(s, 1))``
    and the weights of a row are normalised to sum to one. Source pixels
    outside the crop get no weight (the crop happens before the resize, as in
    ``mmcv.imcrop`` then ``mmcv.imresize``). With ``s <= 1`` (upscaling) and
    the triangle filter this is exactly bilinear interpolation with
    ``align_corners=False`` and clamped borders; with ``s > 1`` the filter is
    widened by ``s`` (PIL's antialiasing).

    Args:
        start (Tensor): (N,) first source pixel of each crop (integer valued).
        length (Tensor): (N,) crop lengths in source pixels (integer valued).
        out_size (int): output length.
        in_size (int): source length (the full image).
        interpolation (str): 'bilinear' or 'bicubic'.

    Returns:
        Tensor: (N, out_size, in_size) float32 operator.
    """
    if interpolation not in FILTER_SUPPORT:
        raise ValueError(f'interpolation must be one of '
                         f'{sorted(FILTER_SUPPORT)}, got {interpolation!r}')
    dev = start.device
    start = start.to(torch.float64)[:, None, None]
    length = length.to(torch.float64)[:, None, None]
    scale = length / out_size                               # N x 1 x 1
    fscale = scale.clamp(min=1.0)
    j = torch.arange(out_size, device=dev, dtype=torch.float64)[None, :, None]
    x = torch.arange(in_size, device=dev, dtype=torch.float64)[None, None, :]
    centre = (j + 0.5) * scale                              # N x out x 1
    w = _resample_filter((x - start + 0.5 - centre) / fscale, interpolation)
    inside = (x >= start) & (x < start + length)            # N x 1 x in
    w = w * inside
    return (w / w.sum(-1, keepdim=True)).to(torch.float32)  # N x out x in


def resized_crop(img: Tensor, top: Tensor, left: Tensor, height: Tensor,
                 width: Tensor, size: Sequence[int],
                 interpolation: str = 'bilinear') -> Tensor:
    """Crop box ``(top, left, height, width)`` of each sample, resized.

    Separable resampling with per-sample operators (:func:`resample_weights`)
    applied as two batched matrix products, width first, each pass clamped to
    [0, 1] as PIL clips each pass. Equals PIL's ``crop`` + ``resize`` (what
    mmpretrain's ``RandomResizedCrop(backend='pillow')`` runs) and, when
    upscaling, torchvision's ``resized_crop`` on tensors (bilinear,
    ``antialias`` irrelevant), up to PIL's uint8 rounding of each pass.

    Args:
        img (Tensor): (N, C, H, W) batch.
        top, left, height, width (Tensor): (N,) integer crop boxes.
        size (Sequence[int]): output (h, w).
        interpolation (str): 'bilinear' or 'bicubic' (PIL's a = -0.5).

    Returns:
        Tensor: (N, C, h, w).
    """
    n, c, h_in, w_in = img.shape
    out_h, out_w = int(size[0]), int(size[1])
    wx = resample_weights(left, width, out_w, w_in, interpolation)
    wy = resample_weights(top, height, out_h, h_in, interpolation)
    # rows: N x C x H x W @ N x 1 x W x w -> N x C x H x w
    out = torch.matmul(img, wx.transpose(1, 2).unsqueeze(1)).clamp_(0, 1)
    # columns: N x 1 x h x H @ N x C x H x w -> N x C x h x w
    return torch.matmul(wy.unsqueeze(1), out).clamp_(0, 1)


def hflip(img: Tensor) -> Tensor:
    """Mirror left-right: (N, C, H, W) -> (N, C, H, W)."""
    return img.flip(-1)


def vflip(img: Tensor) -> Tensor:
    """Mirror top-bottom: (N, C, H, W) -> (N, C, H, W)."""
    return img.flip(-2)


# ------------------------------------------------------------------ colour
def rgb_to_gray(img: Tensor, weights: Sequence[float] = RGB_LUMA) -> Tensor:
    """Weighted channel sum: (N, 3, H, W) -> (N, 1, H, W)."""
    w = torch.as_tensor(weights, dtype=img.dtype, device=img.device)
    return (img * w.view(1, -1, 1, 1)).sum(1, keepdim=True)


def adjust_brightness(img: Tensor, factor: Tensor) -> Tensor:
    """``clamp(factor * img)``: torchvision's and PIL's ``Brightness``.

    kornia's ``adjust_brightness_accumulative`` (per-sample factors).
    """
    return KE.adjust_brightness_accumulative(img, factor, clip_output=True)


def adjust_contrast(img: Tensor, factor: Tensor) -> Tensor:
    """Blend with the mean grey level of each image (RGB input).

    ``clamp(f * img + (1 - f) * mean(gray(img)))``, torchvision's formula,
    kornia's ``adjust_contrast_with_mean_subtraction``. PIL's ``Contrast``
    rounds that mean to an integer grey level: within ``|1 - f| * 0.5 / 255``.
    """
    return KE.adjust_contrast_with_mean_subtraction(img, factor)


def adjust_saturation(img: Tensor, factor: Tensor) -> Tensor:
    """Blend with the per-pixel grey image (RGB input).

    ``clamp(f * img + (1 - f) * gray(img))``, torchvision's formula, kornia's
    ``adjust_saturation_with_gray_subtraction`` (PIL's ``Color`` rounds the
    grey image to uint8).
    """
    return KE.adjust_saturation_with_gray_subtraction(img, factor)


# (R, G, B) sources per hue sector ``floor(6 h)``, as indices into the stack
# (v, p, q, t) of kornia's ``hsv_to_rgb``
_HUE_SECTOR = torch.tensor([[0, 3, 1], [2, 0, 1], [1, 0, 3], [1, 2, 0],
                            [3, 1, 0], [0, 1, 2]])


def adjust_hue(img: Tensor, factor: Tensor) -> Tensor:
    """Rotate the hue by ``factor`` turns (RGB input, factor in [-0.5, 0.5]).

    RGB -> HSV, ``h = (h + factor) mod 1``, HSV -> RGB in float:
    torchvision's tensor ``adjust_hue``. This is kornia's ``adjust_hue``
    (``rgb_to_hsv``, ``adjust_hue_raw`` with ``2 pi factor`` radians,
    ``hsv_to_rgb``) written out with the same float operations in the same
    order, so it returns the same values bit for bit, in fewer passes over
    the batch: in-place steps, no stack/cat of H, S, V, and one gather picks
    each output channel from (v, p, q, t) instead of fifteen nested
    ``where``. PIL (mmcv's pillow backend and torchvision on PIL images)
    stores H, S and V as uint8 and shifts by ``int(factor * 255)`` H units,
    so it differs from the float formula by its quantization (a few /255 on
    saturated pixels).
    """
    two_pi = 2 * math.pi
    shift = (factor * (2 * torch.pi)).to(img.dtype).view(-1, 1, 1)
    # kornia rgb_to_hsv (eps 1e-8)
    r, g, b = img.unbind(1)
    v = img.amax(1)
    deltac = v - img.amin(1)
    s_div = v + 1e-8
    s_div.masked_fill_(v == 0, 1.0)
    s = deltac / s_div
    deltac.masked_fill_(deltac == 0, 1.0)
    rc, gc, bc = v - r, v - g, v - b
    h2 = (rc - bc).add_(2.0 * deltac)
    h3 = (gc - rc).add_(4.0 * deltac)
    h = torch.where((r >= g) & (r >= b), bc.sub_(gc),
                    torch.where(g >= b, h2, h3))
    h = h.div_(deltac).div_(6.0).remainder_(1.0).mul_(two_pi)
    h.masked_fill_(h >= two_pi, 0.0)
    # kornia adjust_hue_raw
    h = h.add_(shift).remainder_(two_pi)
    h.masked_fill_(h >= two_pi, 0.0)
    # kornia hsv_to_rgb
    h6 = h.div_(two_pi).mul_(6)
    hi = torch.floor(h6).remainder_(6)
    f = h6.remainder_(6).sub_(hi)
    p = v * (1.0 - s)
    q = v * (1.0 - f * s)
    t = v * (1.0 - (1.0 - f).mul_(s))
    idx = _HUE_SECTOR.to(img.device)[hi.long().clamp_(0, 5)]
    return torch.stack((v, p, q, t), 1).gather(1, idx.permute(0, 3, 1, 2))


def grayscale(img: Tensor, weights: Sequence[float]) -> Tensor:
    """Grey image from normalised channel weights, kept at C channels.

    mmcv's ``RandomGrayscale(keep_channels=True)``: the weights apply to the
    channels in their stored order, normalised to sum to one. mmcv truncates
    the grey level to uint8 (down by 0.5 / 255 on average); this is the
    float value.
    """
    w = torch.as_tensor(weights, dtype=torch.float64)
    if w.numel() != img.shape[1]:
        raise ValueError(f'{w.numel()} channel weights for an image with '
                         f'{img.shape[1]} channels')
    w = (w / w.sum()).tolist()
    return rgb_to_gray(img, w).expand_as(img).contiguous()


def solarize(img: Tensor, threshold: Tensor) -> Tensor:
    """Invert the pixels not below ``threshold`` (on the 0-255 scale).

    ``where(255 x < thr, x, 1 - x)``: mmcv's ``solarize``; kornia's
    ``solarize`` with ``thr / 255``.
    """
    return KE.solarize(img, threshold.to(img.dtype) / 255.)


# -------------------------------------------------------------------- blur
def pil_box_radius(sigma: Tensor, passes: int = 3) -> Tensor:
    """PIL's fractional box radius whose ``passes`` box blurs give ``sigma``.

    Gwosdek et al., "Theoretical foundations of Gaussian convolution by
    extended box filtering" (SSVM 2011), as Pillow's ``_gaussian_blur_radius``.
    """
    sigma2 = sigma.to(torch.float64)**2 / passes
    box = torch.sqrt(12 * sigma2 + 1)
    lo = torch.floor((box - 1) / 2)
    frac = (2 * lo + 1) * (lo * (lo + 1) - 3 * sigma2)
    frac = frac / (6 * (sigma2 - (lo + 1)**2))
    return lo + frac


def box_blur_operator(radius: Tensor, size: int) -> Tensor:
    """One extended box pass along a line, edges replicated: (N, L, L).

    Weights 1 for ``|i| <= floor(r)``, ``r - floor(r)`` for
    ``|i| = floor(r) + 1``, divided by ``2 r + 1`` (Pillow's
    ``ImagingLineBoxBlur``); taps beyond an edge read the edge pixel.
    """
    n = radius.shape[0]
    dev = radius.device
    lo = torch.floor(radius)
    frac = radius - lo
    reach = int(lo.max().item()) + 1 if n else 1
    pos = torch.arange(size, device=dev)
    op = torch.zeros(n, size, size, dtype=torch.float64, device=dev)
    for i in range(-reach, reach + 1):
        w = torch.where(lo >= abs(i), torch.ones_like(radius),
                        torch.where(lo + 1 == abs(i), frac,
                                    torch.zeros_like(radius)))
        cols = (pos + i).clamp(0, size - 1)
        # one (row, col) pair per row for this offset: no duplicate index
        op[:, pos, cols] += w[:, None]
    return op / (2 * radius + 1)[:, None, None]


def pil_gaussian_blur(img: Tensor, sigma: Tensor, passes: int = 3) -> Tensor:
    """PIL's ``ImageFilter.GaussianBlur(radius=sigma)`` on a batch.

    Pillow approximates a Gaussian by ``passes`` extended box blurs per axis
    with replicated edges (mmpretrain's ``GaussianBlur`` and MoCo v2 call
    it); this applies the same operator, composed into one (N, L, L) matrix
    per axis, in float (Pillow rounds to uint8 after each of its 6 passes).
    kornia's ``gaussian_blur2d`` (a sampled Gaussian kernel) is a different
    filter, hence not used.

    Args:
        img (Tensor): (N, C, H, W).
        sigma (Tensor): (N,) blur radii; 0 leaves the image unchanged.

    Returns:
        Tensor: (N, C, H, W).
    """
    n, c, h, w = img.shape
    radius = pil_box_radius(sigma, passes)
    ops = []
    for size in (h, w):
        one = box_blur_operator(radius, size)
        op = one
        for _ in range(passes - 1):
            op = torch.bmm(one, op)
        ops.append(op.to(img.dtype))
    op_h, op_w = ops
    # N x 1 x H x H @ N x C x H x W @ N x 1 x W x W
    out = torch.matmul(op_h.unsqueeze(1), img)
    return torch.matmul(out, op_w.transpose(1, 2).unsqueeze(1)).clamp_(0, 1)


# ----------------------------------------------------------------- erasing
def erase(img: Tensor, top: Tensor, left: Tensor, height: Tensor,
          width: Tensor, fill: Tensor) -> Tensor:
    """Replace the box ``(top, left, height, width)`` of each sample by fill.

    Args:
        img (Tensor): (N, C, H, W).
        top, left, height, width (Tensor): (N,) integer boxes (empty if 0).
        fill (Tensor): (N, C, 1, 1) constant or (N, C, H, W) per-pixel fill.

    Returns:
        Tensor: (N, C, H, W).
    """
    _, _, h, w = img.shape
    rows = torch.arange(h, device=img.device)[None, :]
    cols = torch.arange(w, device=img.device)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + height)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + width)[:, None])
    box = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # N x 1 x H x W
    return torch.where(box, fill.to(img.dtype).expand_as(img), img)
