"""Batched device augmentation against torchvision / PIL per image.

Three kinds of proof that the device views are the CPU recipes' views:
each op, given the same parameters, equals torchvision's per-image
functional op (or PIL's, where the recipes run PIL) within a stated
tolerance; each parameter sampler draws from the distribution of the CPU
transform's own sampler (two-sample Kolmogorov-Smirnov statistic below 0.01
over 100,000 draws); and the draws depend only on (seed, rank, iteration),
so a resumed run sees the views of the uninterrupted one.
"""
import math

import kornia.enhance as KE
import mmcv
import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.v2.functional as TF
from mmengine.logging import MessageHub
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import TRANSFORMS
from PIL import Image, ImageFilter

from cld_mm.models.data_preprocessors import DeviceMultiViewPreprocessor
from cld_mm.models.data_preprocessors import functional as F
from cld_mm.models.data_preprocessors import samplers as S
from cld_mm.models.data_preprocessors.transforms import build_view_transform

U8 = 1 / 255
N_DRAWS = 100_000


def images(n=8, size=32, seed=0):
    """(n, 3, size, size) uint8 with smooth regions, edges and saturated
    colours (random noise alone would hide errors in the blur and hue)."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randint(0, 256, (n, 3, size // 4, size // 4), generator=g)
    smooth = torch.nn.functional.interpolate(noise.float(), size=size,
                                             mode='bilinear')
    sharp = torch.randint(0, 256, (n, 3, size, size), generator=g).float()
    mask = torch.rand(n, 1, size, size, generator=g) < 0.3
    return torch.where(mask, sharp, smooth).round().clamp(0, 255).to(
        torch.uint8)


def to_pil(img_u8):
    return Image.fromarray(img_u8.permute(1, 2, 0).numpy())


def from_pil(pil):
    return torch.from_numpy(np.array(pil)).permute(2, 0, 1).float() / 255


def ks_statistic(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b| (ties ok)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side='right') / a.size
    fb = np.searchsorted(b, grid, side='right') / b.size
    return float(np.abs(fa - fb).max())


# ------------------------------------------------- ops, same parameters
def test_resized_crop_matches_torchvision_bilinear():
    g = torch.Generator().manual_seed(0)
    img = images(16)
    box = S.resized_crop_params(g, 16, 32, 32, (0.08, 1.))
    out = F.resized_crop(img.float() / 255, *box, (32, 32))
    for i in range(16):
        b = [int(t[i]) for t in box]
        ref = TF.resized_crop(img[i].double() / 255, *b, [32, 32],
                              antialias=False)
        assert (ref.float() - out[i]).abs().max() < 1e-4
        # PIL (the recipes' backend='pillow'): rounds each pass to uint8
        pil = TF.resized_crop(to_pil(img[i]), *b, [32, 32])
        assert (from_pil(pil) - out[i]).abs().max() <= 1.001 * U8


def test_resized_crop_downscaling_matches_pil_antialias():
    """96 px crops of 96 px STL-10 images are often larger than the output;
    then PIL widens its filter (antialiasing), and so does the op."""
    img = images(6, size=96, seed=1)
    top, left = torch.tensor([0, 10, 5, 0, 30, 2]), torch.tensor(
        [0, 3, 20, 40, 0, 7])
    h, w = torch.tensor([96, 80, 60, 50, 66, 89]), torch.tensor(
        [96, 90, 70, 56, 60, 71])
    out = F.resized_crop(img.float() / 255, top, left, h, w, (32, 32))
    for i in range(6):
        pil = TF.resized_crop(to_pil(img[i]), int(top[i]), int(left[i]),
                              int(h[i]), int(w[i]), [32, 32])
        assert (from_pil(pil) - out[i]).abs().max() <= 1.001 * U8


@pytest.mark.parametrize('name', ['brightness', 'contrast', 'saturation',
                                  'hue'])
def test_colour_op_matches_torchvision(name):
    img = images(8).float() / 255  # RGB here: the ops take RGB
    lo, hi = (-0.5, 0.5) if name == 'hue' else (0.0, 2.0)
    factor = torch.linspace(lo, hi, 8)
    ours = getattr(F, f'adjust_{name}')(img, factor)
    ref_fn = getattr(TF, f'adjust_{name}')
    for i in range(8):
        ref = ref_fn(img[i].double(), float(factor[i])).float()
        assert (ours[i] - ref).abs().max() <= U8, (name, float(factor[i]))


def test_hue_equals_kornias_hsv_round_trip_bit_for_bit():
    """adjust_hue rewrites kornia's rgb_to_hsv / adjust_hue_raw / hsv_to_rgb
    with the same float operations: the same values exactly, including
    grey, black and white pixels, the six hue sectors and shifts of 0 and
    +-1/2 turn."""
    img = images(12, size=16, seed=1).float() / 255
    img[0] = 0.                                   # black
    img[1, :, :8] = 1.                            # white
    img[2] = img[2, :1]                           # grey
    img[3, :, :, :6] = torch.tensor([[1., 1., 0., 0., 0., 1.],
                                     [0., 1., 1., 1., 0., 0.],
                                     [0., 0., 0., 1., 1., 1.]])[:, None]
    factor = torch.linspace(-0.5, 0.5, 12)
    factor[5] = 0.
    ref = KE.adjust_hue(img, factor * (2 * torch.pi))
    assert torch.equal(F.adjust_hue(img, factor), ref)


def test_colour_ops_match_the_recipes_mmcv_ops():
    """The CPU recipes run mmcv's ops (ColorJitter backend='cv2') on uint8
    BGR arrays: brightness, contrast and saturation within 1.2/255 (mmcv
    rounds or truncates to uint8). Hue: cv2's uint8 HSV (H in 180 steps)
    quantizes, so saturated pixels differ by more: stated tolerance p99
    7/255, mean 1/255 (max 13.8/255 measured)."""
    img = images(16)
    bgr = img.permute(0, 2, 3, 1).numpy()
    x = img.float().flip(1) / 255   # the ops take RGB
    for name, fn_name, lo, hi in [
            ('brightness', 'adjust_brightness', 0.6, 1.4),
            ('contrast', 'adjust_contrast', 0.6, 1.4),
            ('saturation', 'adjust_color', 0.6, 1.4),
            ('hue', 'adjust_hue', -0.4, 0.4)]:
        f = torch.linspace(lo, hi, 16)
        ours = getattr(F, f'adjust_{name}')(x, f).flip(1) * 255
        ref = np.stack([getattr(mmcv, fn_name)(bgr[i].copy(), float(f[i]),
                                               backend='cv2')
                        for i in range(16)])
        err = (ours.permute(0, 2, 3, 1).double() -
               torch.from_numpy(ref).double()).abs()
        if name == 'hue':
            assert torch.quantile(err.flatten(), 0.99) < 7
            assert err.mean() < 1
        else:
            assert err.max() < 1.2, name


def test_colour_jitter_per_sample_order_matches_torchvision():
    """Each sample: its own factors and its own order of the four ops,
    applied by torchvision one image at a time (stored BGR -> RGB)."""
    op = build_view_transform(dict(type='ColorJitter', brightness=0.4,
                                   contrast=0.4, saturation=0.4, hue=0.4,
                                   backend='cv2'))
    n = 32
    img = images(n).float() / 255
    order, factors = op.draw(torch.Generator().manual_seed(3), n)
    assert len({tuple(r) for r in order.tolist()}) > 10   # per sample
    assert all(sorted(r) == [0, 1, 2, 3] for r in order.tolist())
    ours = op.apply(img, order, factors)
    fns = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation,
           TF.adjust_hue]
    for i in range(n):
        x = img[i].flip(0).double()   # BGR -> RGB
        for k in order[i].tolist():
            x = fns[k](x, float(factors[k][i]))
        assert (ours[i] - x.flip(0).float()).abs().max() <= U8


def test_grayscale_flip_solarize_erase_match_torchvision():
    img = images(4)
    x = img.float() / 255
    # mmcv's weights in B, G, R order = torchvision's RGB luma on RGB
    gray = F.grayscale(x, (0.114, 0.587, 0.2989))
    assert F.hflip(x).equal(torch.stack([TF.horizontal_flip(t) for t in x]))
    thr = torch.tensor([0., 64., 128., 200.])
    sol = F.solarize(x, thr)
    top, left = torch.tensor([0, 3, 10, 31]), torch.tensor([5, 0, 12, 0])
    eh, ew = torch.tensor([4, 10, 0, 1]), torch.tensor([7, 32, 3, 1])
    fill = torch.tensor([113., 122., 125.]).view(1, 3, 1, 1) / 255
    erased = F.erase(x, top, left, eh, ew, fill.expand(4, 3, 1, 1))
    for i in range(4):
        ref = TF.rgb_to_grayscale(x[i].flip(0).double(), 3).float()
        # mmcv normalises the weights to sum 1, torchvision's sum to 0.9999
        assert (gray[i] - ref).abs().max() <= 0.05 * U8
        ref = TF.solarize(img[i], float(thr[i])).float() / 255
        assert (sol[i] - ref).abs().max() < 1e-6
        ref = TF.erase(x[i], int(top[i]), int(left[i]), int(eh[i]),
                       int(ew[i]), fill[0])
        assert erased[i].equal(ref)


def pil_box_pass(x, sigma, passes=3):
    """One of Pillow's extended box passes along the last axis, float64,
    written from Pillow's BoxBlur.c: radius from ``_gaussian_blur_radius``,
    weight 1 within ``floor(r)``, ``r - floor(r)`` one pixel further,
    divided by ``2 r + 1``, edges replicated."""
    s2 = sigma * sigma / passes
    big = math.sqrt(12 * s2 + 1)
    lo = math.floor((big - 1) / 2)
    r = lo + (2 * lo + 1) * (lo * (lo + 1) - 3 * s2) / (6 * (s2 - (lo + 1)**2))
    lo, frac = math.floor(r), r - math.floor(r)
    pad = torch.nn.functional.pad(x, (lo + 1, lo + 1), mode='replicate')
    n = x.shape[-1]
    out = sum(pad[..., lo + 1 + i:lo + 1 + i + n] for i in range(-lo, lo + 1))
    out = out + frac * (pad[..., :n] + pad[..., 2 * lo + 2:])
    return out / (2 * r + 1)


def test_gaussian_blur_matches_pil():
    """PIL's GaussianBlur (the recipes' op): 3 extended box passes along
    the rows, then 3 along the columns. The op equals that operator in
    float (a reference written here, 1e-5); PIL rounds to uint8 after each
    of its 6 passes: the reference with that rounding added equals PIL
    within 2/255, and the float op differs from PIL by up to 3/255 on
    single pixels, 0.75/255 on average, unbiased (stated tolerance)."""
    img = images(6)
    sigma = [0.1, 0.5, 0.9, 1.3, 1.7, 2.0]
    ours = F.pil_gaussian_blur(img.float() / 255, torch.tensor(sigma))
    errs, signed = [], []
    for i, s in enumerate(sigma):
        pil = from_pil(to_pil(img[i]).filter(
            ImageFilter.GaussianBlur(radius=s))).double() * 255
        ref, rounded = img[i].double(), img[i].double()
        for axis in (-1, -2):       # rows (along x) first, as Pillow
            for _ in range(3):
                ref = pil_box_pass(ref.transpose(-1, axis), s).transpose(
                    -1, axis)
                rounded = torch.floor(pil_box_pass(
                    rounded.transpose(-1, axis), s).transpose(-1, axis) +
                    0.5)
        assert (ours[i].double() * 255 - ref).abs().max() < 1e-5 * 255
        assert (rounded - pil).abs().max() <= 2
        errs.append((ours[i].double() * 255 - pil).abs())
        signed.append((ours[i].double() * 255 - pil).mean())
    errs = torch.stack(errs)
    assert errs.max() <= 3.001 and errs.mean() < 0.75
    assert abs(float(torch.stack(signed).mean())) < 0.05
    assert F.pil_gaussian_blur(img.float() / 255, torch.zeros(6)).sub(
        img.float() / 255).abs().max() < 1e-6   # sigma 0: identity


def test_normalisation_equals_the_cpu_preprocessor():
    mean, std = [125.307, 122.961, 113.8575], [51.5865, 50.847, 51.255]
    img = images(4)
    fast = DeviceMultiViewPreprocessor(view_pipeline=[], num_views=1,
                                       mean=mean, std=std, to_rgb=True)
    cpu = SelfSupDataPreprocessor(mean=mean, std=std, to_rgb=True)
    ours = fast(dict(inputs=img), training=True)['inputs'][0]
    ref = cpu(dict(inputs=[img], data_samples=None),
              training=True)['inputs'][0]
    assert (ours - ref).abs().max() < 1e-4
    tv = torch.stack([TF.normalize(t.flip(0).float(), mean, std)
                      for t in img])
    assert (ours - tv).abs().max() < 1e-4


# ---------------------------------------------- samplers, distributions
def test_crop_sampler_matches_torchvision_get_params():
    scale, ratio = (0.2, 1.0), (3 / 4, 4 / 3)
    g = torch.Generator().manual_seed(0)
    top, left, h, w = [t.numpy() for t in S.resized_crop_params(
        g, N_DRAWS, 32, 32, scale, ratio)]
    torch.manual_seed(0)
    img = torch.zeros(1, 32, 32)
    ref = np.array([T.RandomResizedCrop.get_params(img, scale, ratio)
                    for _ in range(N_DRAWS)])
    rt, rl, rh, rw = ref.T
    for ours, theirs in [(h * w / 1024, rh * rw / 1024),
                         (np.log(w / h), np.log(rw / rh)),
                         (top, rt), (left, rl)]:
        assert ks_statistic(ours, theirs) < 0.01
    # the statistic sees a small change of the range (scale from 0.25)
    _, _, h2, w2 = [t.numpy() for t in S.resized_crop_params(
        g, N_DRAWS, 32, 32, (0.25, 1.0), ratio)]
    assert ks_statistic(h2 * w2 / 1024, rh * rw / 1024) > 0.03


def test_jitter_factors_and_order_match_torchvision_get_params():
    op = build_view_transform(dict(type='ColorJitter', brightness=0.4,
                                   contrast=0.4, saturation=0.4, hue=0.1))
    order, factors = op.draw(torch.Generator().manual_seed(1), N_DRAWS)
    torch.manual_seed(1)
    ref = [T.ColorJitter.get_params((0.6, 1.4), (0.6, 1.4), (0.6, 1.4),
                                    (-0.1, 0.1)) for _ in range(N_DRAWS)]
    for k in range(4):
        theirs = [r[k + 1] for r in ref]
        assert ks_statistic(factors[k].numpy(), theirs) < 0.01
        # position of op k in each sample's order
        pos = (order == k).int().argmax(1).numpy()
        ref_pos = [r[0].tolist().index(k) for r in ref]
        assert ks_statistic(pos, ref_pos) < 0.01


def test_blur_sigma_matches_the_cpu_transform():
    """mmpretrain's GaussianBlur(magnitude_range=(0.1, 2), magnitude_std=
    'inf') draws its radius with its own magnitude rule."""
    cfg = dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
               magnitude_std='inf', prob=0.5)
    cpu = TRANSFORMS.build(cfg)
    np.random.seed(2)
    theirs = [cpu.random_magnitude() for _ in range(N_DRAWS)]
    ours = build_view_transform(cfg).mag.draw(
        torch.Generator().manual_seed(2), N_DRAWS, None).numpy()
    assert ks_statistic(ours, theirs) < 0.01
    # and torchvision's GaussianBlur(sigma=(0.1, 2)) of MoCo v2
    torch.manual_seed(2)
    tv = [T.GaussianBlur.get_params(0.1, 2.0) for _ in range(N_DRAWS)]
    assert ks_statistic(ours, tv) < 0.01


def test_erasing_boxes_match_the_cpu_transform():
    """mmpretrain's RandomErasing run on a blank image: its box (the 255
    pixels) against the sampler's boxes."""
    n = 20_000
    cfg = dict(type='RandomErasing', erase_prob=1.0, min_area_ratio=0.02,
               max_area_ratio=0.33, aspect_range=(0.3, 3.3), mode='const',
               fill_color=255)
    cpu = TRANSFORMS.build(cfg)
    np.random.seed(4)
    boxes = []
    for _ in range(n):
        out = cpu(dict(img=np.zeros((32, 32, 3), np.uint8)))['img'][..., 0]
        rows, cols = np.nonzero(out.any(1))[0], np.nonzero(out.any(0))[0]
        boxes.append((rows[0], cols[0], len(rows), len(cols)))
    theirs = np.array(boxes).T
    ours = [t.numpy() for t in S.erasing_params(
        torch.Generator().manual_seed(4), N_DRAWS, 32, 32, (0.02, 0.33),
        (0.3, 3.3))]
    # 20k CPU draws (slow transform): the KS bound for 20k vs 100k at the
    # 0.1 % level is 1.95 * sqrt(1/20k + 1/100k) = 0.0151
    for a, b in zip(ours, theirs):
        assert ks_statistic(a, b) < 0.0151


@pytest.mark.parametrize('cfg', [
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='Solarize', thr=128, prob=0.2)])
def test_coin_rates(cfg):
    """The share of changed samples: p within 4.5 binomial std."""
    op = build_view_transform(cfg)
    x = torch.rand(N_DRAWS // 10, 3, 2, 2) * 0.5 + 0.5   # every op changes
    x[:, 0] = 0.1
    out = op(x, torch.Generator().manual_seed(5))
    changed = (out != x).flatten(1).any(1).double().mean().item()
    p = cfg['prob']
    assert abs(changed - p) < 4.5 * math.sqrt(p * (1 - p) / x.shape[0])


# ------------------------------------------------------------- seeding
def test_views_depend_on_seed_rank_and_iteration_only():
    """The views of iteration t equal in a fresh preprocessor (a resumed
    run) and differ between iterations and seeds."""
    kw = dict(view_pipeline=[
        dict(type='RandomResizedCrop', scale=16, backend='pillow'),
        dict(type='ColorJitter', brightness=0.4, contrast=0.4,
             saturation=0.4, hue=0.4, backend='cv2'),
        dict(type='RandomFlip', prob=0.5)],
        mean=[127.5] * 3, std=[127.5] * 3, seed=7)
    x = images(8)
    hub = MessageHub.get_instance('test_device_augment_resume')

    def views(pre, it):
        hub.update_info('iter', it)
        return pre(dict(inputs=x), training=True)['inputs']

    run = DeviceMultiViewPreprocessor(**kw)
    whole = [views(run, t) for t in range(4)]
    resumed = DeviceMultiViewPreprocessor(**kw)
    for t in (2, 3):
        assert all(a.equal(b) for a, b in zip(views(resumed, t), whole[t]))
    assert not whole[2][0].equal(whole[3][0])
    assert not whole[2][0].equal(whole[2][1])
    kw['seed'] = 8
    other = DeviceMultiViewPreprocessor(**kw)
    assert not views(other, 2)[0].equal(whole[2][0])
    # no seed: drawn from torch's generator (the runner's seed), a buffer
    kw.pop('seed')
    torch.manual_seed(5)
    a = DeviceMultiViewPreprocessor(**kw)
    torch.manual_seed(5)
    b = DeviceMultiViewPreprocessor(**kw)
    assert int(a.seed) == int(b.seed) and 'seed' in a.state_dict()
    assert all(u.equal(v) for u, v in zip(views(a, 2), views(b, 2)))
