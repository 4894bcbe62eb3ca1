"""The TensorBoard switch (configs/_base_/tensorboard.py) writes event files.

A real Runner trains the quickstart's TensorBoard variant for 2 iterations
(20 images, 16 px crops, kNN on 40 test images); the event file, read back
with TensorBoard's own reader, holds the same losses and kNN figure as
mmengine's JSON log written beside it.
"""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from utils import REPO, small_crops, tiny_config

TB_CONFIG = ('configs/quickstart/'
             'moco-cld_resnet18-s2_1xb128-coslr-6e_cifar10-5k_tensorboard.py')


def _events(path: str) -> dict:
    """{tag: {step: value}} of a TensorBoard event file."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(path)
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)}
            for tag in acc.Tags()['scalars']}


def _json_log(path: str) -> dict:
    """{tag: {step: value}} of mmengine's scalars.json."""
    out = {}
    for line in open(path):
        row = json.loads(line)
        step = row.pop('step')
        for tag, value in row.items():
            out.setdefault(tag, {})[step] = value
    return out


def test_tensorboard_switch_writes_the_logged_scalars(tmp_path, cifar_t20):
    root, train_ann, test_ann = cifar_t20
    cfg = tiny_config(TB_CONFIG, str(tmp_path), root, train_ann, test_ann,
                      batch_size=8, max_iters=2)
    small_crops(cfg.model.data_preprocessor.view_pipeline)
    cfg.train_dataloader.dataset.cache_dir = str(tmp_path / 'arrays')
    cfg.custom_hooks = []        # the kNN of the random init is not needed
    Runner.from_cfg(cfg).train()
    events = glob.glob(osp.join(str(tmp_path), '*', 'vis_data',
                                'events.out.tfevents.*'))
    assert len(events) == 1
    tb = _events(events[0])
    local = _json_log(glob.glob(osp.join(str(tmp_path), '*', 'vis_data',
                                         'scalars.json'))[0])
    assert {'loss', 'lr', 'knn/top1', 'knn/top5'} <= set(local)
    assert any(t.startswith('loss_') for t in local)  # the loss terms
    for tag in local:
        if tag in ('epoch', 'iter', 'time', 'data_time', 'memory'):
            continue                   # timings: train and val share steps
        assert tag in tb, (tag, sorted(tb))
        assert sorted(tb[tag]) == sorted(local[tag]), tag
        for step, value in local[tag].items():
            assert tb[tag][step] == pytest.approx(value, rel=1e-5), tag
    assert sorted(tb['loss']) == [1, 2]          # both iterations logged


def test_cfg_options_switch_replaces_the_json_backend():
    """The one-flag switch documented in configs/_base_/tensorboard.py."""
    cfg = Config.fromfile(osp.join(REPO, 'configs/quickstart/'
                                   'moco-cld_resnet18-s2_1xb128-coslr-6e_'
                                   'cifar10-5k.py'))
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'LocalVisBackend']
    cfg.merge_from_dict(
        {'visualizer.vis_backends.0.type': 'TensorboardVisBackend'})
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'TensorboardVisBackend']
