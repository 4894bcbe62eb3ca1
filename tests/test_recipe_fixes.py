"""The shipped configs against the CLD authors' CIFAR recipes.

Each check runs on the resolved config (``Config.fromfile``) or on what its
own ops and model compute; the reference values are written here from the
authors' code (frank-xwang/CLD-UnsupervisedLearning: datasets/dataloader.py,
models/resnet_cifar.py, lib/LinearAverage.py, lib/lr_scheduler.py, scripts/)
and from the ITU-R BT.601 luma weights, not taken from cld_mm. The table of
what follows the authors and what does not is in docs/cld.md.
"""
import copy
import functools
import glob
import math
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from data_writers import (
    cifar_images,
    solid,
    write_cifar_python,
    write_list,
    write_stl10_part,
)
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.optim import OptimWrapper
from mmpretrain.registry import DATASETS, MODELS, PARAM_SCHEDULERS, TRANSFORMS
from mmpretrain.structures import DataSample

from utils import REPO

# every pre-training config (benchmarks are downstream, configs/fast/ has
# its own tests)
PRETRAIN = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if not {'_base_', 'benchmarks', 'fast'} & set(
        osp.relpath(p, REPO).split(osp.sep)))
# the authors' recipe families (CIFAR / STL-10 NPID, NPID+CLD, MoCo, MoCo+CLD)
AUTHORS_CIFAR = [c for c in PRETRAIN
                 if osp.basename(c).split('_')[0] in
                 ('npid', 'npid-cld', 'moco', 'moco-cld')
                 and 'resnet18' in c]
# --aug-plus --erasing (MoCo v2's view): MoCo and MoCo+CLD on CIFAR-10
AUG_PLUS = [c for c in AUTHORS_CIFAR
            if osp.basename(c).startswith(('moco_', 'moco-cld_'))
            and 'cifar100' not in c]
# the NPID view (jitter 0.4/0.4/0.4/0.4 on every view): every other
# CIFAR/STL-10 config, ours included (BYOL, SMoG CIFAR recipes reuse it)
NPID_VIEW = [c for c in PRETRAIN
             if ('cifar' in c or 'stl10' in c) and c not in AUG_PLUS]
CIFAR_SCHEDULE = [c for c in PRETRAIN
                  if ('cifar' in c or 'stl10' in c) and '-200e' in c]

# BT.601 luma of an RGB colour, the weights of torchvision/PIL grayscale
LUMA = (0.299, 0.587, 0.114)
RED, BLUE = (255, 0, 0), (0, 0, 255)


def luma(rgb):
    return sum(w * v for w, v in zip(LUMA, rgb))


@functools.lru_cache(maxsize=None)
def _load(path):
    return Config.fromfile(osp.join(REPO, path))


def cfg_of(path):
    """The resolved config (loaded once per module, a fresh copy each call)."""
    return copy.deepcopy(_load(path))


def walk(node):
    """Every dict of a nested config (depth first) with its parents."""
    stack = [(node, ())]
    while stack:
        n, parents = stack.pop()
        if isinstance(n, dict):
            yield n, parents
            children = list(n.values())
            parents = parents + (n, )
        elif isinstance(n, (list, tuple)):
            children = list(n)
        else:
            continue
        stack += [(c, parents) for c in reversed(children)]


def ops_of(cfg, op_type):
    """(op dict, wrapped in a RandomApply?) for every ``op_type`` op of the
    training pipeline."""
    return [(op, any(p.get('type') == 'RandomApply' for p in parents))
            for op, parents in walk(cfg.train_dataloader.dataset)
            if op.get('type') == op_type]


def test_families_found():
    assert len(PRETRAIN) >= 35
    assert 'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar100.py' \
        in NPID_VIEW
    assert 'configs/cld/moco-cld_resnet18_1xb128-coslr-200e_cifar100.py' \
        in NPID_VIEW
    assert {'configs/moco/moco_resnet18_1xb256-coslr-200e_cifar10.py',
            'configs/cld/moco-cld_resnet18_1xb256-coslr-200e_cifar10.py',
            'configs/repro/moco_resnet18_1xb128-coslr-10e_cifar10-5k.py',
            'configs/repro/moco-cld_resnet18_1xb128-coslr-10e_cifar10-5k.py',
            } <= set(AUG_PLUS)
    assert len(AUTHORS_CIFAR) >= 18


# -- colour jitter on every view (no RandomApply) ---------------------------
@pytest.mark.parametrize('path', NPID_VIEW)
def test_npid_view_jitter_on_every_view(path):
    cfg = cfg_of(path)
    jitters = ops_of(cfg, 'ColorJitter')
    assert jitters, path
    for op, wrapped in jitters:
        assert not wrapped, f'{path}: jitter inside RandomApply'
        assert (op.brightness, op.contrast, op.saturation, op.hue) == \
            (0.4, 0.4, 0.4, 0.4)
    grays = ops_of(cfg, 'RandomGrayscale')
    assert grays and all(op.prob == 0.2 and not w for op, w in grays)
    crops = ops_of(cfg, 'RandomResizedCrop')
    assert all(tuple(op.crop_ratio_range) == (0.2, 1.) for op, _ in crops)
    assert all(op.scale == (96 if 'stl10' in path else 32)
               for op, _ in crops)


@pytest.mark.parametrize('path', AUG_PLUS)
def test_aug_plus_view(path):
    cfg = cfg_of(path)
    (op, wrapped), = ops_of(cfg, 'ColorJitter')
    assert wrapped and (op.brightness, op.contrast, op.saturation,
                        op.hue) == (0.4, 0.4, 0.4, 0.1)
    apply, = [o for o, _ in walk(cfg.train_dataloader.dataset)
              if o.get('type') == 'RandomApply']
    assert apply.prob == 0.8
    (erase, _), = ops_of(cfg, 'RandomErasing')
    assert erase.erase_prob == 1.0


@pytest.mark.parametrize('path', PRETRAIN)
def test_one_channel_order(path):
    """BGR arrays into every colour op, RGB out of the preprocessor."""
    cfg = cfg_of(path)
    assert cfg.model.data_preprocessor.to_rgb is True
    for op, _ in ops_of(cfg, 'ColorJitter'):
        assert op.backend == 'cv2'
    for op, _ in ops_of(cfg, 'RandomGrayscale'):
        # B, G, R order of the luma weights
        assert tuple(op.channel_weights) == pytest.approx(
            LUMA[::-1], abs=2e-4)
    datasets = {d.get('type') for d, _ in walk(cfg.train_dataloader.dataset)
                if 'pipeline' in d or d.get('type') == 'LongTailDataset'}
    # mmpretrain's CIFAR10/CIFAR100 give RGB arrays: not used for training
    assert not {'CIFAR10', 'CIFAR100'} & datasets, datasets


# -- luma of red and blue through the configs' own datasets and ops --------
LUMA_CONFIGS = {
    'folder': 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py',
    'cifar10_python':
        'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10-binary.py',
    'cifar100_python':
        'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar100.py',
    'cifar100_lt': 'configs/npid/npid_resnet18_1xb256-coslr-200e_cifar100-lt.py',
    'stl10': 'configs/npid/npid_resnet18_1xb256-coslr-200e_stl10.py',
    'imagenet': 'configs/cld/mocov2_cld_r50.py',
    'imagenet_byol': 'configs/byol/byol_resnet50_16xb256-coslr-200e_in1k.py',
    'smog_mcrop': 'configs/smog/'
    'smog_resnet50_32xb128-mcrop-lars-coslr-400e_in1k-224px-96px.py',
}


def dataset_of_colours(cfg, root):
    """The config's training dataset (its own class, its own loading op)
    reading images 0: pure red and 1: pure blue written in its format."""
    ds = cfg.train_dataloader.dataset
    while ds.get('type') == 'LongTailDataset':
        ds = ds.dataset
    ds = dict(ds)
    colours = np.stack([solid(RED), solid(BLUE)])
    load = [op for op in ds.get('pipeline', [])
            if op.get('type') == 'LoadImageFromFile']
    kind = ds['type']
    if kind in ('CIFAR10Python', 'CIFAR100Python'):
        write_cifar_python(root, colours, np.array([0, 1]),
                           cifar100=kind == 'CIFAR100Python')
        ds.update(data_root=root)
    elif kind == 'STL10':
        big = np.stack([solid(RED, 96), solid(BLUE, 96)])
        for part in ('train', 'unlabeled'):
            write_stl10_part(root, part, big,
                             np.array([0, 1]) if part == 'train' else None)
        ds.update(data_root=root)
    else:  # image files read by LoadImageFromFile
        from PIL import Image
        for i, img in enumerate(colours):
            Image.fromarray(img).save(osp.join(root, f'{i}.png'))
        ds.update(data_root=root, data_prefix='',
                  ann_file=write_list(osp.join(root, 'list.txt'),
                                      ['0.png', '1.png'], [0, 1]))
        ds.pop('split', None)
        if kind == 'ImageNet':
            ds['type'] = 'CustomDataset'  # same loading op, any list
        assert load, f'{kind} reads files without LoadImageFromFile?'
    ds['pipeline'] = load
    dataset = DATASETS.build(ds)
    return [dataset[0]['img'], dataset[1]['img']]


@pytest.mark.parametrize('name', sorted(LUMA_CONFIGS))
def test_grayscale_and_jitter_luma_of_red_and_blue(name, tmp_path):
    """A red image greys to 0.299 * 255, a blue one to 0.114 * 255.

    With the two channel orders mixed (RGB arrays through BGR weights), red
    would grey to 29 and blue to 76.
    """
    cfg = cfg_of(LUMA_CONFIGS[name])
    red, blue = dataset_of_colours(cfg, str(tmp_path))
    # the loaded arrays are BGR: red is in the last channel
    assert red[0, 0].tolist() == [0, 0, 255]
    assert blue[0, 0].tolist() == [255, 0, 0]
    grays = ops_of(cfg, 'RandomGrayscale')
    jitters = ops_of(cfg, 'ColorJitter')
    assert grays and jitters
    # the config's ops; grayscale always applied, and the jitter's
    # saturation factor pinned to 0 (a full desaturation: its grey image)
    ops = [TRANSFORMS.build(dict(op, prob=1.0)) for op, _ in grays]
    ops += [TRANSFORMS.build(dict(op, brightness=0., contrast=0., hue=0.,
                                  saturation=(0., 0.))) for op, _ in jitters]
    for op in ops:
        for img, colour in ((red, RED), (blue, BLUE)):
            out = op.transform(dict(img=img.copy()))['img']
            assert np.abs(out.astype(float) - luma(colour)).max() <= 1.0, (
                type(op).__name__, colour, out[0, 0])
    # and the data preprocessor hands the network RGB: channel 0 is red
    pre = MODELS.build(cfg.model.data_preprocessor)
    img = torch.from_numpy(red.transpose(2, 0, 1).copy())
    out = pre(dict(inputs=[torch.stack([img])],
                   data_samples=[DataSample()]))['inputs'][0][0]
    mean = torch.tensor(pre.mean).view(3, 1, 1) if pre.mean.dim() == 1 \
        else pre.mean.view(3, 1, 1)
    rgb = out * pre.std.view(3, 1, 1) + mean.view(3, 1, 1)
    torch.testing.assert_close(rgb[:, 0, 0], torch.tensor([255., 0., 0.]),
                               atol=1e-3, rtol=0)


def test_cifar_python_releases_are_bgr(tmp_path):
    """CIFAR10Python / CIFAR100Python turn the release's RGB planes into
    (32, 32, 3) BGR arrays, pixel for pixel."""
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(5)
    for kind, c100 in (('CIFAR10Python', False), ('CIFAR100Python', True)):
        root = str(tmp_path / kind)
        write_cifar_python(root, imgs, labels, cifar100=c100)
        ds = DATASETS.build(dict(type=kind, data_root=root, split='train',
                                 pipeline=[]))
        assert len(ds) == 5
        for i in range(5):
            item = ds[i]
            assert item['img'].shape == (32, 32, 3)
            np.testing.assert_array_equal(item['img'], imgs[i][..., ::-1])
            assert int(item['gt_label']) == i


# -- no pillow "alpha" warning in a real run of the pipelines ---------------
@pytest.mark.parametrize('name', ['folder', 'imagenet'])
def test_pipelines_run_without_alpha_warning(name, cifar_slice):
    root, train_ann, _ = cifar_slice
    cfg = cfg_of(LUMA_CONFIGS[name])
    pipeline = cfg.train_dataloader.dataset.pipeline
    _, _, paths = cifar_images(root, train_ann, limit=6)

    def run(pipe):
        compose = Compose(pipe)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            for p in paths:
                out = compose(dict(img_path=osp.join(root, p), sample_idx=0))
                assert len(out['inputs']) >= 2
        return [str(w.message) for w in caught]

    assert not [m for m in run(pipeline) if 'alpha' in m]
    # the check can fail: mmcv's pillow path warns on every saturation step
    pillow = Config(dict(p=pipeline)).p
    for op, _ in walk(pillow):
        if op.get('type') == 'ColorJitter':
            op['backend'] = 'pillow'
        if op.get('type') == 'RandomApply':
            op['prob'] = 1.0
    assert [m for m in run(pillow) if 'alpha' in m]


# -- PyTorch's default conv init for the CIFAR ResNet-18 --------------------
def test_cifar_resnet18_default_conv_init():
    """kaiming_uniform(a=sqrt(5)): U(-b, b), b = 1/sqrt(fan_in), std b/sqrt(3)
    (the authors' models/resnet_cifar.py sets no init), not mmpretrain's
    Kaiming normal fan_out (std sqrt(2 / fan_out))."""
    seen = {}
    for path in AUTHORS_CIFAR:
        cfg = cfg_of(path)
        assert cfg.model.backbone.get('init_cfg', 'unset') is None, path
        seen.setdefault(str(cfg.model.backbone), cfg.model)
    # the CIFAR stem and the STL-10 ImageNet stem
    assert {'ResNet_CIFAR', 'ResNet'} == {m.backbone.type
                                          for m in seen.values()}
    for model_cfg in seen.values():
        torch.manual_seed(0)
        model = MODELS.build(model_cfg)
        model.init_weights()
        convs = [m for m in model.backbone.modules()
                 if isinstance(m, torch.nn.Conv2d)]
        assert len(convs) >= 20
        for conv in convs:
            w = conv.weight.detach()
            fan_in = w[0].numel()
            fan_out = w.shape[0] * w[0, 0].numel()
            bound = 1 / math.sqrt(fan_in)
            assert w.abs().max() <= bound
            if w.numel() >= 4096:  # enough samples for the std
                assert float(w.std()) == pytest.approx(bound / math.sqrt(3),
                                                       rel=0.1)
                kaiming = math.sqrt(2 / fan_out)
                assert abs(float(w.std()) - kaiming) > 0.2 * kaiming


# -- NPID memory bank: uniform, not normalised ------------------------------
def test_memory_bank_uniform_not_normalised():
    """lib/LinearAverage.py: U(-s, s), s = 1/sqrt(d/3), rows not unit."""
    for path in [c for c in AUTHORS_CIFAR if 'npid' in osp.basename(c)]:
        cfg = cfg_of(path)
        torch.manual_seed(0)
        bank = MODELS.build(cfg.model).memory_bank
        n, d = bank.shape
        assert n == cfg.model.bank_size and d == 128
        s = 1 / math.sqrt(d / 3)
        assert bank.abs().max() <= s
        assert float(bank.abs().max()) > 0.99 * s
        # uniform: variance s^2 / 3 = 1 / d, mean 0
        assert float(bank.var()) == pytest.approx(1 / d, rel=0.02)
        assert abs(float(bank.mean())) < 0.01 * s
        # not normalised: |v|^2 has mean 1 and variance d * Var(x^2) =
        # d * (s^4/5 - s^4/9) = 0.8 / d, so |v| has std ~ sqrt(0.8 / d) / 2
        norms = bank.norm(dim=1)
        assert float(norms.std()) == pytest.approx(math.sqrt(0.8 / d) / 2,
                                                   rel=0.1)
        assert float((norms ** 2).mean()) == pytest.approx(1.0, rel=0.02)


# -- the CIFAR schedule: warm-up from lr/100, cosine to 1e-6 ----------------
def authors_lr(i, base, n_iter, epochs=200, warmup=5, eta_min=1e-6):
    """lib/lr_scheduler.py: GradualWarmupScheduler (multiplier 100) then
    CosineAnnealingLR(eta_min=1e-6), stepped every iteration."""
    w, t_max = warmup * n_iter, (epochs - warmup) * n_iter
    if i <= w:
        return base / 100 * (99 * i / w + 1)
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * (i - w)
                                                      / t_max)) / 2


@pytest.mark.parametrize('path', CIFAR_SCHEDULE)
def test_cifar_schedule_warmup_and_cosine_floor(path):
    cfg = cfg_of(path)
    warm, cos = cfg.param_scheduler
    assert cfg.train_cfg.max_epochs == 200
    assert (warm.type, warm.start_factor, warm.begin, warm.end) == \
        ('LinearLR', 0.01, 0, 5)
    assert (cos.type, cos.eta_min, cos.begin, cos.end, cos.T_max) == \
        ('CosineAnnealingLR', 1e-6, 5, 200, 195)
    n_iter = 3
    base = cfg.optim_wrapper.optimizer.lr
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=base))
    scheds = [PARAM_SCHEDULERS.build(
        dict(s), default_args=dict(optimizer=wrapper, epoch_length=n_iter))
        for s in cfg.param_scheduler]
    w = 5 * n_iter
    for i in range(200 * n_iter):
        lr = wrapper.optimizer.param_groups[0]['lr']
        theirs = authors_lr(i, base, n_iter)
        if i < w:
            # mmengine's LinearLR reaches the full lr at iteration w - 1,
            # theirs at w: at most 0.99 / (w - 1) of the lr apart (0.1 % at
            # bs 256: w = 975)
            assert lr == pytest.approx(base * (0.01 + 0.99 * i / (w - 1)),
                                       rel=1e-6), i
            assert abs(lr - theirs) <= base * 0.99 / (w - 1) + 1e-12
        else:  # the cosine part: their lr, iteration by iteration
            assert lr == pytest.approx(theirs, rel=1e-6, abs=1e-12), i
        for s in scheds:
            s.step()


def test_short_repro_schedules():
    """configs/repro: 10 epochs, 1 warm-up epoch from lr/100, cosine to 0
    (the figures of docs/evidence.md were measured so); bs 128, lr 0.03."""
    for path in [c for c in PRETRAIN if c.startswith('configs/repro/')]:
        cfg = cfg_of(path)
        warm, cos = cfg.param_scheduler
        assert (warm.start_factor, warm.begin, warm.end) == (0.01, 0, 1)
        assert (cos.begin, cos.end, cos.T_max) == (1, 10, 9)
        assert cos.get('eta_min', 0.0) == 0.0
        assert cfg.train_dataloader.batch_size == 128
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.03)


# -- whole batches (CIFAR, STL-10, MoCo), float32 by default ----------
@pytest.mark.parametrize('path', PRETRAIN)
def test_whole_batches_and_fp32_default(path):
    from cld_mm.engine.step_options import apply_step_options
    cfg = cfg_of(path)
    if 'cifar' in path or 'stl10' in path or 'moco' in osp.basename(path):
        assert cfg.train_dataloader.drop_last is True
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if 'swin' in path:  # AdamW + AMP as mmpretrain's Swin recipes
        assert wrapper == 'AmpOptimWrapper'
        return
    assert wrapper == 'OptimWrapper'
    # mixed precision is one option away (tools/train.py --amp)
    apply_step_options(cfg, 'fp16')
    assert cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'


# -- NPID with two views: the pre-step bank for both, update a then b -------
def test_npid_two_view_bank_order():
    cfg = cfg_of('configs/npid/npid_resnet18_1xb256-coslr-200e_cifar10.py')
    cfg.model.bank_size = 16  # data-size dependent: 16 images here
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    views = [torch.randn(4, 3, 32, 32) for _ in range(2)]
    idx = torch.tensor([3, 7, 0, 12])
    samples = [DataSample(sample_idx=int(i)) for i in idx]
    bank0 = model.memory_bank.clone().double()
    with torch.no_grad():
        feats = [F.normalize(model.neck(model.backbone(v))[0], dim=1)
                 .double() for v in views]
    losses = model.loss(views, samples)
    t, m = cfg.model.temperature, cfg.model.bank_momentum
    # both views against the bank as it was before the step
    ref = sum(F.cross_entropy(f @ bank0.t() / t, idx) for f in feats) / 2
    assert float(losses['loss']) == pytest.approx(float(ref), rel=1e-5)
    # view a updates the rows, then view b updates the result
    rows = F.normalize(m * bank0[idx] + (1 - m) * feats[0], dim=1)
    rows = F.normalize(m * rows + (1 - m) * feats[1], dim=1)
    torch.testing.assert_close(model.memory_bank[idx].double(), rows,
                               rtol=1e-5, atol=1e-6)
    others = torch.ones(16, dtype=torch.bool)
    others[idx] = False
    assert torch.equal(model.memory_bank[others].double(), bank0[others])


# -- MoCo CIFAR queue: the authors' uniform, unnormalised init --------------
def test_moco_cifar_queue_init():
    """Theirs (``MemoryMoCo``): U(+-1/sqrt(d/3)), not normalised; the
    200-epoch CIFAR recipes build the same queue. The CPU reproduction and
    the quickstart keep mmpretrain's unit columns (their figures were
    measured with them)."""
    import math
    bound = 1 / math.sqrt(128 / 3)
    paths = [c for c in AUTHORS_CIFAR
             if osp.basename(c).startswith(('moco_', 'moco-cld_'))]
    measured = [c for c in paths if '/repro/' in c or '/quickstart/' in c]
    assert measured and len(measured) < len(paths)
    for path in paths:
        cfg = cfg_of(path)
        queue = MODELS.build(cfg.model).queue
        assert queue.shape == (128, cfg.model.queue_len)
        assert cfg.model.queue_len % cfg.train_dataloader.batch_size == 0
        if path in measured:
            torch.testing.assert_close(queue.norm(dim=0),
                                       torch.ones(cfg.model.queue_len))
            continue
        assert queue.abs().max() <= bound
        # uniform on [-b, b]: mean 0, variance b^2 / 3; columns not unit norm
        assert abs(queue.mean().item()) < 0.01 * bound
        assert abs(queue.var().item() - bound ** 2 / 3) < 0.02 * bound ** 2
        assert queue.norm(dim=0).std() > 0.01


def test_unknown_queue_init_is_named():
    cfg = cfg_of(osp.join(REPO, 'configs/moco/'
                          'moco_resnet18_1xb256-coslr-200e_cifar10.py'))
    cfg.model.queue_init = 'orthogonal'
    with pytest.raises(ValueError, match="queue_init='orthogonal'"):
        MODELS.build(cfg.model)
