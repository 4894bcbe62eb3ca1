"""Each compatibility fix (cld_mm/compat.py, tools/install) and the pins."""
import ctypes
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from cld_mm import compat

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
FIX = osp.join(REPO, 'tools', 'install', 'fix_torchvision_cpu.py')


def _mmengine_checkpoint(path):
    """A checkpoint with what a Runner stores: message hub + numpy meta."""
    from mmengine.logging import MessageHub
    from mmengine.runner import save_checkpoint
    hub = MessageHub.get_instance('compat_test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_info('iter', np.int64(3))
    save_checkpoint({'state_dict': {'w': torch.ones(2)},
                     'message_hub': hub.state_dict(),
                     'meta': {'seed': np.int64(7), 'arr': np.arange(3)}},
                    path)


def test_weights_only_load_of_mmengine_checkpoint(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_checkpoint(path)
    ckpt = torch.load(path)  # torch's default: weights_only=True
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 1.5
    from mmengine.runner import CheckpointLoader
    assert 'message_hub' in CheckpointLoader.load_checkpoint(path)


def test_weights_only_load_fails_without_the_fix(tmp_path):
    """Without cld_mm's allow-list torch refuses mmengine's HistoryBuffer."""
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_checkpoint(path)
    code = ('import torch, mmengine.logging\n'
            f'torch.load({path!r})\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert 'HistoryBuffer' in proc.stderr and 'Weights only load' in \
        proc.stderr


def test_global_allow_list_survives_mmengine_loads(tmp_path):
    """mmengine's loader (onedl-mmengine's wraps each load in a
    ``safe_globals`` block) leaves the process-wide allow-list whole: a
    plain ``torch.load`` after it still reads a Runner's checkpoint."""
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import CheckpointLoader
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_checkpoint(path)
    for _ in range(2):
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        hub = ckpt['message_hub']['log_scalars']
        assert isinstance(hub['train/loss'], HistoryBuffer)
    assert HistoryBuffer in torch.serialization.get_safe_globals()
    ckpt = torch.load(path)  # weights_only=True, outside mmengine
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 1.5
    assert ckpt['meta']['seed'] == 7


def test_a_safe_globals_block_removes_what_it_lists(tmp_path):
    """Why :func:`compat.keep_global_allow_list` exists: torch's
    ``safe_globals`` block removes every global it lists when it ends, also
    one that was allowed for the whole process before it."""
    class Kept:
        pass

    torch.serialization.add_safe_globals([Kept])
    assert Kept in torch.serialization.get_safe_globals()
    with torch.serialization.safe_globals([Kept]):
        pass
    assert Kept not in torch.serialization.get_safe_globals()


def test_allow_list_keeps_other_globals_blocked(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': compat.check_pins}, path)  # an arbitrary function
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path)


def test_allow_list_is_idempotent():
    compat.allow_mmengine_checkpoint_globals()
    compat.allow_mmengine_checkpoint_globals()
    from mmengine.logging import HistoryBuffer
    assert HistoryBuffer in torch.serialization.get_safe_globals()


def _fix_module():
    spec = importlib.util.spec_from_file_location('fix_tv', FIX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mangled_variable_detection():
    fix = _fix_module()
    assert fix.is_variable('_ZN3c104cuda20CUDACachingAllocator9allocatorE')
    assert not fix.is_variable('_ZN3c104cuda12device_countEv')
    assert not fix.is_variable(
        '_ZN3c104cuda20setCurrentCUDAStreamENS0_10CUDAStreamE')
    src = fix.stub_source(['_ZN3c104cuda12device_countEv',
                           '_ZN3c104cuda20CUDACachingAllocator9allocatorE'])
    assert 'void *_ZN3c104cuda20CUDACachingAllocator9allocatorE = 0;' in src
    assert 'return 0;' in src


def test_torchvision_ops_run():
    import torchvision
    from torchvision.ops import nms, roi_align
    boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
    keep = nms(boxes, torch.tensor([.9, .8, .7]), 0.5)
    assert keep.tolist() == [0, 2]
    feat = torch.arange(16.).reshape(1, 1, 4, 4)
    out = roi_align(feat, [torch.tensor([[0., 0, 4, 4]])], 1, 1.0, 1, True)
    assert out.item() == pytest.approx(feat.mean().item())
    assert torchvision.__version__.startswith('0.28')


def test_torchvision_fix_is_a_noop_where_it_loads():
    import torchvision
    so = osp.join(osp.dirname(torchvision.__file__), '_C.so')
    before = os.stat(so).st_mtime_ns
    proc = subprocess.run([sys.executable, FIX], capture_output=True,
                          text=True, check=True)
    assert 'nothing to do' in proc.stdout
    assert os.stat(so).st_mtime_ns == before


def test_torchvision_stub_reports_no_cuda_device():
    import torchvision
    libdir = osp.join(osp.dirname(osp.dirname(torchvision.__file__)),
                      'torchvision.libs')
    stub = osp.join(libdir, 'libc10_cuda.so')
    if torch.version.cuda is not None:  # a CUDA torch needs no stub
        assert not osp.exists(stub) or True
        return
    lib = ctypes.CDLL(stub)
    fn = lib._ZN3c104cuda12device_countEv
    fn.restype = ctypes.c_int8
    assert fn() == 0


def test_numpy_pin_keeps_mmcv_colour_jitter_working():
    """numpy<2 on the default stack; the onedl fork runs on numpy 2."""
    import mmcv
    assert int(np.__version__.split('.')[0]) < 2 or compat._onedl_stack()
    img = np.full((4, 4, 3), 200, np.uint8)
    img[0, 0] = (10, 20, 250)
    out = mmcv.adjust_hue(img, -0.4)  # overflows in uint8 under numpy 2
    assert out.dtype == np.uint8 and out.shape == img.shape


def test_package_config_bases_resolve(tmp_path):
    from mmengine.config import Config
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text("_base_ = 'mmpretrain::_base_/default_runtime.py'\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.default_scope == 'mmpretrain'


# --- mmengine's package helpers without pkg_resources ------------------------

_PACKAGE_UTILS_RUN = r'''
import json, sys, warnings
with warnings.catch_warnings(record=True) as rec:
    warnings.simplefilter('always')
    import cld_mm  # noqa: F401
    from mmengine.config import Config
    from mmengine.utils import get_installed_path, is_installed
    from mmengine.utils import package_utils
    cfg = Config.fromfile(sys.argv[1])
    out = dict(
        scope=cfg.default_scope,
        installed=[is_installed(p) for p in ('mmpretrain', 'mmcv',
                                              'no_such_package_cld')],
        path=get_installed_path('mmpretrain'),
        module=package_utils.package2module(sys.argv[2]),
        pkg_resources_imported='pkg_resources' in sys.modules)
out['warnings'] = [str(w.message) for w in rec]
print(json.dumps(out))
'''


def _dist_of(module):
    """The installed distribution that provides ``module`` (own lookup)."""
    import importlib.metadata
    return importlib.metadata.packages_distributions()[module][0]


def test_mmengine_package_helpers_emit_no_pkg_resources_warning(tmp_path):
    """A 'pkg::' config base and the helpers behind it, in a clean process:
    same answers as an independent lookup, no pkg_resources at all."""
    import mmpretrain
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text("_base_ = 'mmpretrain::_base_/default_runtime.py'\n")
    dist = _dist_of('mmpretrain')  # mmpretrain or onedl-mmpretrain
    proc = subprocess.run(
        [sys.executable, '-c', _PACKAGE_UTILS_RUN, str(cfg_file), dist],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    import json
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['scope'] == 'mmpretrain'
    assert out['installed'] == [True, True, False]
    assert out['path'] == osp.dirname(mmpretrain.__file__)
    assert out['module'] == 'mmpretrain'
    assert not out['pkg_resources_imported']
    assert not [w for w in out['warnings'] if 'pkg_resources' in w], \
        out['warnings']


def test_unfixed_mmengine_helpers_do_warn_about_pkg_resources():
    """Without cld_mm, mmengine 0.10.7's helper warns: the test above can
    fail. (The onedl fork's helpers use importlib.metadata: no fix there.)"""
    code = ('import json, sys, warnings\n'
            'with warnings.catch_warnings(record=True) as rec:\n'
            "    warnings.simplefilter('always')\n"
            '    from mmengine.utils import package_utils as pu\n'
            "    pu.is_installed('mmpretrain')\n"
            "uses = 'pkg_resources' in pu.is_installed.__code__.co_names\n"
            'print(json.dumps([uses, [str(w.message) for w in rec]]))\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, check=True)
    import json
    uses, warned = json.loads(proc.stdout.strip().splitlines()[-1])
    if uses:  # mmengine 0.10.7
        assert any('pkg_resources' in w for w in warned), warned
    # replaced where they use pkg_resources and on the onedl stack (whose
    # helpers miss the onedl- distribution names), else left alone
    assert compat.package_utils_without_pkg_resources() == (
        uses or compat._onedl_stack())


def test_installed_path_of_a_distribution_named_unlike_its_module():
    """mmsegmentation (or onedl-mmsegmentation) installs module mmseg."""
    import mmseg
    from mmengine.utils import get_installed_path
    dist = _dist_of('mmseg')
    assert compat.package2module(dist) == 'mmseg'
    assert get_installed_path(dist) == osp.dirname(mmseg.__file__)
    assert get_installed_path('mmseg') == osp.dirname(mmseg.__file__)
    with pytest.raises(Exception):
        get_installed_path('no_such_package_cld')


# --- a normal training run prints no warning ---------------------------------

def test_file_client_is_built_only_when_asked():
    from mmengine.fileio import FileClient
    from mmengine.hooks import checkpoint_hook
    assert checkpoint_hook.FileClient.infer_client(None, '/tmp') is None
    client = checkpoint_hook.FileClient.infer_client(dict(backend='disk'),
                                                     '/tmp')
    assert isinstance(client, FileClient)


def test_training_and_knn_validation_print_no_warning(cifar_t20, tmp_path):
    """tools/train.py: 2 NPID iterations + kNN validation, default warning
    filters: neither Python warnings nor mmengine WARNING log lines; on this
    CUDA-less machine the environment log names the CPU and gloo, no "GPU
    number" and no NCCL."""
    root, train_ann, test_ann = cifar_t20
    opts = [f'train_dataloader.dataset.data_root={root}',
            f'train_dataloader.dataset.ann_file={train_ann}',
            'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'model.bank_size=20',
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'val_dataloader.batch_size=40', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False']
    for part, ann in (('memory', train_ann), ('query', test_ann)):
        opts += [f'val_dataloader.dataset.{part}.data_root={root}',
                 f'val_dataloader.dataset.{part}.ann_file={ann}']
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
           osp.join(REPO, 'configs', 'npid',
                    'npid_resnet18_1xb256-coslr-200e_cifar10.py'),
           '--work-dir', str(tmp_path), '--cfg-options', *opts]
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'Epoch(val) [1]' in out and 'accuracy' in out.lower(), out[-2000:]
    warned = [ln for ln in out.splitlines()
              if 'Warning' in ln or ' - WARNING - ' in ln]
    assert not warned, '\n'.join(warned)
    assert not torch.cuda.is_available()
    env_log = out[out.index('Runtime environment:'):]
    env_log = env_log[:env_log.index('-' * 60)]
    assert 'GPU number' not in env_log and 'nccl' not in env_log.lower()
    assert 'device: cpu' in env_log and "'backend': 'gloo'" in env_log, \
        env_log


# --- detection / segmentation configs and the install mode -------------------

def test_detection_config_loads_on_the_full_install():
    """The full install (this suite's) has mmdet and mmcv's ops: no error.
    The lite install's refusal is checked by tools/install/check_lite.py in
    CI (.ci/run), in a real lite virtualenv."""
    cfg = compat.load_config(osp.join(
        REPO, 'configs', 'benchmarks', 'mmdetection', 'voc0712',
        'faster-rcnn_r50-syncbn-c4_8xb2-24k_voc0712.py'))
    assert cfg.default_scope == 'mmdet'
    assert importlib.util.find_spec('mmcv._ext') is not None
    err = compat.full_install_error('mmseg', ['mmseg', 'mmcv._ext'])
    assert 'segmentation' in str(err) and 'mmcv._ext' in str(err)
    assert 'tools/install/install.sh' in str(err)
