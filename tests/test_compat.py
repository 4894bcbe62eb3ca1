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
    import mmcv
    assert int(np.__version__.split('.')[0]) < 2
    img = np.full((4, 4, 3), 200, np.uint8)
    img[0, 0] = (10, 20, 250)
    out = mmcv.adjust_hue(img, -0.4)  # overflows in uint8 under numpy 2
    assert out.dtype == np.uint8 and out.shape == img.shape


def test_setuptools_pin_keeps_package_config_bases_working(tmp_path):
    from mmengine.config import Config
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text("_base_ = 'mmpretrain::_base_/default_runtime.py'\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.default_scope == 'mmpretrain'
