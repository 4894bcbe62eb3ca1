"""Bad inputs: each fails early with an error naming the problem, and no good
checkpoint in the work dir is touched."""
import hashlib
import os
import os.path as osp
import runpy
import shutil
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS

from cld_mm.engine.config_checks import apply_global_batch_size, check_dataset_paths
from cld_mm.engine.data_checks import check_train_dataset

from utils import NPID_CFG, REPO, moco_model, npid_model, t20_config

TRAIN = runpy.run_path(osp.join(REPO, 'tools', 'train.py'))


def _digest(folder):
    """name -> sha1 of every checkpoint in ``folder``."""
    return {f: hashlib.sha1(open(osp.join(folder, f), 'rb').read()).hexdigest()
            for f in sorted(os.listdir(folder)) if f.endswith('.pth')}


def _npid_checkpoint(path, bank_size, algorithm='NPID'):
    """A real NPID checkpoint in mmengine's layout (state_dict + meta)."""
    torch.manual_seed(0)
    model = MODELS.build(npid_model(bank_size))
    torch.save(dict(meta=dict(algorithm=algorithm, epoch=1, iter=2),
                    state_dict=model.state_dict()), path)


def _config(work_dir, cifar_t20, **kw):
    return t20_config(cifar_t20, work_dir, **kw)


def test_empty_annotation_file(tmp_path, cifar_t20):
    empty = tmp_path / 'empty.txt'
    empty.write_text('\n')
    cfg = _config(str(tmp_path), cifar_t20)
    cfg.train_dataloader.dataset.ann_file = str(empty)
    with pytest.raises(ValueError, match=f'annotation file {empty} is empty'):
        check_dataset_paths(cfg, phases=('train', ))


def test_dataset_smaller_than_a_global_batch(cifar_slice):
    root, train_ann, _ = cifar_slice
    ds = DATASETS.build(dict(type='CustomDataset', data_root=root,
                             ann_file=train_ann, pipeline=[]))
    check_train_dataset(ds, batch_size=8, drop_last=True, world_size=2)
    with pytest.raises(ValueError, match='80 images, fewer than one global '
                       r'batch \(2 processes x batch_size 64\)'):
        check_train_dataset(ds, batch_size=64, drop_last=True, world_size=2)


def _broken_copy(tmp_path, cifar_t20, damage):
    """The 20 real images copied to tmp_path; the third one damaged."""
    root, ann, _ = cifar_t20
    src = [line.split()[0] for line in open(osp.join(root, ann))]
    lines = []
    for i, rel in enumerate(src):
        dst = tmp_path / f'{i:02d}.jpg'
        shutil.copy(osp.join(root, rel), dst)
        lines.append(f'{dst.name} 0\n')
    bad = tmp_path / '02.jpg'
    data = bad.read_bytes()
    bad.write_bytes(b'' if damage == 'empty' else data[:len(data) // 2])
    (tmp_path / 'ann.txt').write_text(''.join(lines))
    return str(bad)


def test_empty_image_file(tmp_path, cifar_t20):
    bad = _broken_copy(tmp_path, cifar_t20, 'empty')
    ds = DATASETS.build(dict(type='CustomDataset', data_root=str(tmp_path),
                             ann_file='ann.txt', pipeline=[]))
    with pytest.raises(ValueError, match=f'empty .*truncated.*{bad}'):
        check_train_dataset(ds, batch_size=4, drop_last=True)


def test_truncated_image_in_a_real_run(tmp_path, cifar_t20):
    data = tmp_path / 'data'
    data.mkdir()
    bad = _broken_copy(data, cifar_t20, 'truncated')
    work = tmp_path / 'work'
    cfg = _config(str(work), cifar_t20)
    cfg.train_dataloader.dataset.update(data_root=str(data),
                                        ann_file='ann.txt')
    cfg.train_dataloader.sampler.shuffle = False
    with pytest.raises(AssertionError, match=f'failed to load image: {bad}'):
        Runner.from_cfg(cfg).train()
    assert not osp.exists(work) or _digest(str(work)) == {}


def _train_args(monkeypatch, *argv):
    """tools/train.py's parsed command line for NPID_CFG and ``argv``."""
    monkeypatch.setattr(sys, 'argv', ['train.py', NPID_CFG, *argv])
    return TRAIN['parse_args']()


def test_missing_checkpoint(tmp_path, cifar_t20, monkeypatch):
    args = _train_args(monkeypatch, '--resume', str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        TRAIN['merge_args'](Config.fromfile(osp.join(REPO, NPID_CFG)), args)
    cfg = _config(str(tmp_path), cifar_t20)
    cfg.load_from = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        Runner.from_cfg(cfg).train()


def test_checkpoint_of_another_algorithm(tmp_path, cifar_t20):
    ckpt = str(tmp_path / 'epoch_1.pth')
    _npid_checkpoint(ckpt, bank_size=20)
    before = _digest(str(tmp_path))
    cfg = _config(str(tmp_path), cifar_t20)
    cfg.model = moco_model(data_preprocessor=cfg.model.data_preprocessor)
    cfg.resume, cfg.load_from = True, ckpt
    with pytest.raises(ValueError, match='written by NPID, cannot resume a '
                       'MoCo'):
        Runner.from_cfg(cfg).train()
    assert _digest(str(tmp_path)) == before


@pytest.mark.parametrize('resume', [False, True])
def test_checkpoint_of_another_bank_size(tmp_path, cifar_t20, resume):
    ckpt = str(tmp_path / 'epoch_1.pth')
    _npid_checkpoint(ckpt, bank_size=40)
    before = _digest(str(tmp_path))
    cfg = _config(str(tmp_path), cifar_t20)  # bank_size 20
    cfg.resume, cfg.load_from = resume, ckpt
    with pytest.raises(ValueError, match=r'memory_bank: checkpoint \(40, 128\)'
                       r' vs model \(20, 128\) \(another bank_size'):
        Runner.from_cfg(cfg).train()
    assert _digest(str(tmp_path)) == before


def test_global_batch_not_divisible(monkeypatch):
    cfg = Config.fromfile(osp.join(REPO, NPID_CFG))
    cfg.global_batch_size = 16
    assert apply_global_batch_size(cfg.copy(), 2).train_dataloader.batch_size \
        == 8
    with pytest.raises(ValueError, match=r'global_batch_size=16 is not '
                       r'divisible by the number of processes \(3\)'):
        apply_global_batch_size(cfg, 3)
    monkeypatch.setenv('WORLD_SIZE', '3')  # as torchrun sets it
    args = _train_args(monkeypatch, '--launcher', 'pytorch',
                       '--cfg-options', 'global_batch_size=16')
    with pytest.raises(ValueError, match='not divisible'):
        TRAIN['merge_args'](Config.fromfile(osp.join(REPO, NPID_CFG)), args)


def test_resume_accepts_the_earlier_cld_key_layout():
    """A checkpoint written before the CLD keys were renamed
    (``cld.group_neck.*``) resumes; other missing keys are still refused."""
    import tiny_models as tm

    from cld_mm.engine.checkpoint_checks import check_checkpoint_compatible
    model = tm.build(tm.with_cld(tm.npid(16, 8, 0.1), 'NPIDCLD',
                                 tm.linear_neck(8), 3, 0.2, 1.0))
    branch = tm.group_branch(model)
    prefix = next(n for n, m in model.named_modules() if m is branch) + '.'
    state = model.state_dict()
    old = {('cld.group_neck.' + k[len(prefix):] if k.startswith(prefix)
            else k): v for k, v in state.items()}
    assert old != dict(state) and any(k.startswith('cld.group_neck.')
                                      for k in old)
    meta = dict(algorithm='NPIDCLD')
    check_checkpoint_compatible(model, dict(state_dict=old, meta=meta),
                                resume=True)
    del old['neck.fc.bias']
    with pytest.raises(ValueError, match=r'missing keys \[neck\.fc\.bias\]'):
        check_checkpoint_compatible(model, dict(state_dict=old, meta=meta),
                                    resume=True)
