"""Step options on CPU with real Runners: --amp, --channels-last, --compile.

Each option is switched on through ``tools/train.py``'s own argument parsing
and config merge, then a real mmengine Runner trains NPID+CLD (the CIFAR
recipe with a narrow ResNet-18, 16 px views, 8 images a batch) for two
iterations. The first iteration's loss of every option is compared with the
same seeded run in float32 / contiguous / eager mode.
"""
import copy
import importlib.util
import os.path as osp
import sys
import time

import pytest
import tiny_models
import torch
from mmengine.runner import Runner

from cld_mm.engine.step_options import amp_dtype, apply_step_options

from utils import REPO, set_where, shrink_backbone, small_crops, tiny_config

CONFIG = 'configs/cld/npid-cld_resnet18_1xb256-coslr-200e_cifar10.py'


def load_train_tool():
    spec = importlib.util.spec_from_file_location(
        'cld_mm_train_tool', osp.join(REPO, 'tools', 'train.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def train_cfg(tmp_path, data, flags, name, tiny=False):
    """The tiny NPID+CLD config after tools/train.py's merge of ``flags``;
    ``tiny``: the two-stage 8/16-channel ResNet of tests/tiny_models.py."""
    tool = load_train_tool()
    root, train_ann, _ = data
    cfg = tiny_config(CONFIG, str(tmp_path / name), root, train_ann,
                      batch_size=8, max_iters=2)
    small_crops(cfg.train_dataloader.dataset.pipeline)
    # a plain list: mmengine serialises a dataset for worker processes with
    # a full gc.collect() (~0.5 s in a test process); num_workers is 0
    cfg.train_dataloader.dataset.serialize_data = False
    # a name of its own: runners of one config built within the same second
    # (same timestamp) would share one MessageHub, and its loss history
    cfg.experiment_name = f'{tmp_path.name}_{name}'
    shrink_backbone(cfg.model, base_channels=8)
    if tiny:
        set_where(cfg.model, 'in_channels', in_channels=tiny_models.C)
        cfg.model.backbone = copy.deepcopy(tiny_models.BACKBONE)
    cfg.randomness = dict(seed=0)
    cfg.default_hooks.checkpoint = None
    argv = sys.argv
    try:
        sys.argv = ['train.py', CONFIG] + flags
        args = tool.parse_args()
    finally:
        sys.argv = argv
    return tool.merge_args(cfg, args)


def run_two_iters(cfg):
    """Train; return (runner, first-iteration loss, backbone output dtypes,
    whether the stem's output was channels-last)."""
    runner = Runner.from_cfg(cfg)
    seen = []

    def record(module, inputs, output):
        seen.append((output.dtype, output.is_contiguous(
            memory_format=torch.channels_last)))

    model = runner.model
    handle = model.backbone.conv1.register_forward_hook(record)
    runner.train()
    handle.remove()
    loss = runner.message_hub.get_scalar('train/loss').data[0][0]
    assert runner.iter == 2
    return runner, float(loss), seen


@pytest.fixture(scope='module')
def reference(tmp_path_factory, cifar_t20):
    """The float32, contiguous, eager run."""
    cfg = train_cfg(tmp_path_factory.mktemp('ref'), cifar_t20, [], 'ref')
    return run_two_iters(cfg)


def test_flags_fold_into_config(tmp_path, cifar_t20):
    cfg = train_cfg(tmp_path, cifar_t20, ['--amp', 'fp16',
                                          '--channels-last', '--compile'],
                    'cfg')
    assert cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'float16'
    assert cfg.optim_wrapper.optimizer.type == 'SGD'   # kept
    assert [h['type'] for h in cfg.custom_hooks].count('ChannelsLastHook') == 1
    assert cfg.compile is True
    apply_step_options(cfg, channels_last=True, compile='aot_eager')
    assert [h['type'] for h in cfg.custom_hooks].count('ChannelsLastHook') == 1
    assert cfg.compile == dict(backend='aot_eager')
    auto = train_cfg(tmp_path, cifar_t20, ['--amp'], 'auto')
    assert auto.optim_wrapper.dtype is None          # resolved on the device
    assert amp_dtype(None) == torch.bfloat16          # no CUDA here
    with pytest.raises(ValueError, match='dtype'):
        amp_dtype('int8')


@pytest.mark.parametrize('flag,dtype', [('bf16', torch.bfloat16),
                                        ('fp16', torch.float16)])
def test_amp_trains_in_reduced_precision(tmp_path, cifar_t20, reference,
                                         flag, dtype):
    _, ref_loss, ref_seen = reference
    assert {d for d, _ in ref_seen} == {torch.float32}
    cfg = train_cfg(tmp_path, cifar_t20, ['--amp', flag], flag)
    runner, loss, seen = run_two_iters(cfg)
    wrapper = runner.optim_wrapper
    assert type(wrapper).__name__ == 'MixedPrecisionOptimWrapper'
    assert wrapper.cast_dtype == dtype
    # the forward ran in the reduced type; the weights stay float32
    assert len(seen) >= 2 and {d for d, _ in seen} == {dtype}
    assert runner.model.backbone.conv1.weight.dtype == torch.float32
    # loss scaling for float16 only
    assert wrapper.loss_scaler.is_enabled() == (dtype == torch.float16)
    # same seeded data and initial weights: the first loss agrees with the
    # float32 run to the precision of the type (bf16 has 8 mantissa bits)
    assert loss == pytest.approx(ref_loss, rel=3e-2)
    assert loss != ref_loss
    state = runner.optim_wrapper.state_dict()
    if dtype == torch.float16:
        assert state['loss_scaler']['scale'] > 0


def test_channels_last(tmp_path, cifar_t20, reference):
    _, ref_loss, ref_seen = reference
    assert not any(cl for _, cl in ref_seen)
    cfg = train_cfg(tmp_path, cifar_t20, ['--channels-last'], 'cl')
    runner, loss, seen = run_two_iters(cfg)
    assert any(type(h).__name__ == 'ChannelsLastHook' for h in runner.hooks)
    weight = runner.model.backbone.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert all(cl for _, cl in seen) and len(seen) >= 2
    # a memory format, not a different computation
    assert loss == pytest.approx(ref_loss, rel=1e-5)


def test_compile_train_step(tmp_path, cifar_t20):
    # On the smallest model (the two-stage tiny ResNet) with TorchDynamo's
    # 'eager' backend (graph capture, no code generation): compiling the
    # narrow ResNet-18 step took 170 s (aot_eager) on a busy 2-core CPU, the
    # tiny one 82 s (aot_eager). The option and its path through mmengine
    # are the same for every backend (inductor: tools/train.py --compile).
    eager = run_two_iters(train_cfg(tmp_path, cifar_t20, [], 'eager',
                                    tiny=True))
    cfg = train_cfg(tmp_path, cifar_t20, ['--compile', 'eager'],
                    'compiled', tiny=True)
    assert cfg.compile == dict(backend='eager')
    start = time.perf_counter()
    runner, loss, seen = run_two_iters(cfg)
    elapsed = time.perf_counter() - start
    # mmengine replaced train_step by its torch.compile-d version
    assert hasattr(runner.model.train_step, '_torchdynamo_orig_callable')
    assert len(seen) >= 2
    assert loss == pytest.approx(eager[1], rel=1e-4)
    print(f'compiled 2-iteration run: {elapsed:.1f} s')
