"""SMoG in a real mmengine Runner on the CIFAR-10 slice: re-clustering."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from tiny_smog import RUNNER_CONFIG, RUNNER_SMALL, shrink_runner_cfg

from utils import tiny_config


class _Snapshot(Hook):
    """Records the groups before (HIGHEST) or after (LOWEST) other hooks."""

    def __init__(self, store, key):
        self.store, self.key = store, key

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        m = runner.model
        self.store.setdefault(self.key, []).append(
            (m.groups.clone(), int(m.num_reclusters)))


def test_reclustering_fires_in_a_runner(tmp_path, cifar_slice):
    root, train_ann, test_ann = cifar_slice
    cfg = shrink_runner_cfg(tiny_config(
        RUNNER_CONFIG, str(tmp_path), root, train_ann, test_ann, batch_size=8,
        max_iters=10, **RUNNER_SMALL))
    cfg.custom_hooks = [dict(type='SMoGReclusterHook', interval=4)]
    runner = Runner.from_cfg(cfg)
    store = {}
    runner.register_hook(_Snapshot(store, 'before'), priority='HIGHEST')
    runner.register_hook(_Snapshot(store, 'after'), priority='LOWEST')
    runner.train()
    model = runner.model
    assert runner.iter == 10 and int(model.group_step) == 10
    fired = [i for i, (b, a) in enumerate(zip(store['before'],
                                              store['after']))
             if a[1] > b[1]]
    assert fired == [3, 7]  # after iterations 4 and 8
    for i, ((g_b, _), (g_a, _)) in enumerate(zip(store['before'],
                                                 store['after'])):
        assert not torch.isnan(g_a).any()
        torch.testing.assert_close(g_a.norm(dim=1), torch.ones(4))
        if i in fired:  # new centroids replace the groups
            assert (g_a - g_b).abs().max() > 1e-3
        else:
            assert torch.equal(g_a, g_b)
    # centroids come from the cache: every group is a unit mean of cached
    # features and the FIFO holds the last 16 momentum embeddings
    assert int(model.cache_filled) == 16
    torch.testing.assert_close(model.feature_cache.norm(dim=1),
                               torch.ones(16))
    # beta, as logged each iteration: linear from 1.0 at the first of the
    # 10 iterations to 0.99 at the last (the config's beta_start/beta_end)
    betas, _ = runner.message_hub.get_scalar('train/beta').data
    assert len(betas) == 10
    assert betas[0] == 1.0 and betas[-1] == pytest.approx(0.99, rel=1e-6)
    assert betas[4] == pytest.approx(1.0 - 0.01 * 4 / 9, rel=1e-6)
    assert float(model.current_beta()) == 0.99
    # kNN validation ran on the backbone features
    knn = runner.message_hub.get_scalar('val/knn/top1')
    assert 0.0 <= knn.current() <= 100.0
