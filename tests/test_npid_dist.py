"""NPID's memory bank stays identical on 2 real gloo ranks."""
import torch

from dist_utils import run_gloo


def _bank_worker(rank, world_size):
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    import cld_mm  # noqa: F401
    torch.manual_seed(0)  # same init on both ranks
    model = MODELS.build(dict(
        type='NPID', bank_size=32, feat_dim=16,
        backbone=dict(type='ResNet_CIFAR', depth=18),
        neck=dict(type='LinearNeck', in_channels=512, out_channels=16,
                  gap_dim=2, norm_cfg=None)))
    init = model.memory_bank.clone()
    torch.manual_seed(100 + rank)  # different local batches
    for step in range(2):
        idx = [rank * 8 + step * 16 + i for i in range(4)]
        samples = [DataSample(metainfo=dict(sample_idx=i)) for i in idx]
        views = [torch.rand(4, 3, 16, 16) for _ in range(2)]
        model.loss(views, samples)['loss'].backward()
    return init, model.memory_bank


def test_bank_identical_across_ranks():
    (init0, bank0), (init1, bank1) = run_gloo(_bank_worker, 2)
    assert torch.equal(init0, init1)
    assert torch.equal(bank0, bank1)
    # every row either rank touched moved; the others did not
    touched = [r * 8 + s * 16 + i for r in range(2) for s in range(2)
               for i in range(4)]
    untouched = sorted(set(range(32)) - set(touched))
    assert (bank0[touched] - init0[touched]).abs().sum(1).min() > 1e-3
    assert torch.equal(bank0[untouched], init0[untouched])
    torch.testing.assert_close(bank0.norm(dim=1), torch.ones(32))
