"""A real mmengine Runner trains NPID on real CIFAR-10 images, then kNN."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from cld_mm.engine.config_checks import check_dataset_paths

from tool_runner import run_in_process
from utils import NPID_CFG, REPO, small_crops, tiny_config

QUICKSTART = 'configs/npid/npid_resnet18_1xb64-coslr-4e_cifar10-5k-quickstart.py'


def test_npid_runner_trains_then_knn(tmp_path, cifar_slice):
    root, train_ann, test_ann = cifar_slice
    cfg = tiny_config(NPID_CFG, str(tmp_path), root, train_ann, test_ann,
                      batch_size=16, max_iters=10)
    small_crops(cfg.train_dataloader.dataset.pipeline)   # 16 px views
    # plain lists: mmengine serialises a dataset for worker processes with a
    # full gc.collect() (~0.5 s in a test process); num_workers is 0
    for ds in (cfg.train_dataloader.dataset,
               cfg.val_dataloader.dataset.memory,
               cfg.val_dataloader.dataset.query):
        ds.serialize_data = False
    runner = Runner.from_cfg(cfg)
    bank_before = runner.model.memory_bank.clone()
    runner.train()
    model = runner.model
    # every one of the 80 images was seen at least once: all rows moved
    moved = (model.memory_bank - bank_before).norm(dim=1)
    assert (moved > 1e-4).all()
    torch.testing.assert_close(model.memory_bank.norm(dim=1), torch.ones(80))
    # the val loop ran kNN over 80 memory + 40 query images
    metrics = runner.val_loop.run()
    assert set(metrics) == {'knn/top1', 'knn/top5'}
    assert 0 <= metrics['knn/top1'] <= metrics['knn/top5'] <= 100
    # the checkpoint holds the bank and restores it
    ckpt = torch.load(osp.join(str(tmp_path), 'epoch_2.pth'))
    assert torch.equal(ckpt['state_dict']['memory_bank'], model.memory_bank)


def test_bank_smaller_than_training_set_fails_before_training(
        tmp_path, cifar_slice):
    root, train_ann, _ = cifar_slice
    cfg = tiny_config(NPID_CFG, str(tmp_path), root, train_ann, bank_size=50)
    cfg.model.bank_size = 50
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='memory bank has 50 rows but the '
                       'training set has 80 images'):
        runner.train()


def test_configs_load_and_quickstart_is_class_balanced():
    for path in (NPID_CFG, QUICKSTART):
        cfg = Config.fromfile(osp.join(REPO, path))
        assert cfg.custom_imports['imports'] == ['cld_mm']
        assert cfg.default_scope == 'mmpretrain'
    q = Config.fromfile(osp.join(REPO, QUICKSTART))
    assert q.model.bank_size == 5000
    assert q.train_dataloader.dataset.ann_file == 'meta/train_5k.txt'
    full = Config.fromfile(osp.join(REPO, NPID_CFG))
    opt = full.optim_wrapper.optimizer
    assert (opt.lr, opt.momentum, opt.weight_decay) == (0.06, 0.9, 5e-4)  # 0.03 per 128
    assert full.train_cfg.max_epochs == 200 and full.train_cfg.val_interval == 5
    assert full.train_dataloader.batch_size == 256


def test_missing_data_root_is_named(tmp_path):
    cfg = Config.fromfile(osp.join(REPO, NPID_CFG))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='train data not found.*'
                       'nowhere.*prepare_cifar10'):
        check_dataset_paths(cfg)


def test_train_tool_reports_missing_data_and_unknown_type(tmp_path,
                                                       cifar10_root,
                                                       monkeypatch):
    train = osp.join(REPO, 'tools', 'train.py')
    # the command line: a real process ends with an error naming the data
    proc = subprocess.Popen(
        [sys.executable, train, osp.join(REPO, NPID_CFG), '--work-dir',
         str(tmp_path), '--cfg-options',
         f'train_dataloader.dataset.data_root={tmp_path}/none'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        # meanwhile the same tool file as __main__ in this process (its
        # argument parsing sets LOCAL_RANK): an unknown model type is named
        monkeypatch.setenv('LOCAL_RANK', '0')
        with pytest.raises(KeyError, match='NPIDD is not in the'):
            run_in_process([train, osp.join(REPO, NPID_CFG), '--work-dir',
                            str(tmp_path), '--cfg-options',
                            'model.type=NPIDD'], cwd=REPO)
    finally:
        _, err = proc.communicate()
    assert proc.returncode != 0
    assert 'train data not found' in err
