"""CIFAR-10 linear evaluation in a real mmengine Runner on real images."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from transfer_utils import BENCH, config_scope  # noqa: F401  (autouse)

CIFAR10 = osp.join(BENCH, 'classification', 'cifar',
                   'resnet18-cifar_1xb256-linear-steplr-100e_cifar10.py')


def test_cifar10_linear_eval_runner(backbone_ckpts, cifar_slice, tmp_path):
    root, train_ann, test_ann = cifar_slice
    ckpt = backbone_ckpts['cifar'][1]
    cfg = Config.fromfile(CIFAR10)
    # exactly what `--cfg-options model.init_cfg.checkpoint=...` does
    cfg.merge_from_dict({'model.init_cfg.checkpoint': ckpt})
    cfg.work_dir = str(tmp_path)
    for loader, ann in ((cfg.train_dataloader, train_ann),
                        (cfg.val_dataloader, test_ann)):
        loader.update(batch_size=16, num_workers=0)
        loader.dataset.update(data_root=root, ann_file=ann)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.default_hooks.logger.interval = 1
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()  # 80 images: 5 iterations
    model = runner.model
    # the frozen backbone is the pre-trained one, BN statistics included
    expected = torch.load(ckpt, weights_only=True)['state_dict']
    got = model.backbone.state_dict()
    assert set(got) == set(expected)
    assert all(torch.equal(got[k], v) for k, v in expected.items())
    assert model.head.fc.weight.shape == (10, 512)
    # the metric is the accuracy of the model's own predictions
    metrics = runner.test()
    correct = total = 0
    model.eval()
    with torch.no_grad():
        for batch in runner.test_dataloader:
            for s in model.test_step(batch):
                correct += int(s.pred_label.item() == s.gt_label.item())
                total += 1
    assert total == 40
    assert metrics['accuracy/top1'] == pytest.approx(100.0 * correct / total)
    assert metrics['accuracy/top5'] >= metrics['accuracy/top1']
