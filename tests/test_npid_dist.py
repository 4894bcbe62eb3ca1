"""NPID's memory bank is identical on 2 real gloo ranks, from the start.

The ranks build their models from different seeds (as
``randomness.diff_rank_seed=True``, the default runtime, does) and train
without a Runner (whose weight initialisation would broadcast the buffers),
so their random initial banks differ; the model's first step broadcasts rank
0's bank, and every update is made from the features gathered from both
ranks.
"""
import torch

from dist_utils import run_gloo
from utils import npid_model

BANK, STEPS, LOCAL = 32, 2, 4


def _touched(rank, step):
    return [rank * 8 + step * 16 + i for i in range(LOCAL)]


def _bank_worker(rank, world_size):
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    import cld_mm  # noqa: F401
    torch.manual_seed(rank)  # a different initial bank on each rank
    model = MODELS.build(npid_model(BANK, feat_dim=16))
    init = model.memory_bank.clone()
    torch.manual_seed(100 + rank)  # different local batches
    feats = []
    for step in range(STEPS):
        samples = [DataSample(metainfo=dict(sample_idx=i))
                   for i in _touched(rank, step)]
        views = [torch.rand(LOCAL, 3, 16, 16) for _ in range(2)]
        model.eval()  # BN on running statistics: features recomputable
        with torch.no_grad():
            feats.append([model.project(v)[1] for v in views])
        model.loss(views, samples)['loss'].backward()
    return init, feats, model.memory_bank


def _momentum(rows, feats):  # NPID's update rule, m = 0.5, written here
    new = 0.5 * rows + 0.5 * feats
    return new / new.norm(dim=1, keepdim=True)


def test_bank_identical_across_ranks():
    (init0, feats0, bank0), (init1, feats1, bank1) = run_gloo(_bank_worker, 2)
    assert not torch.equal(init0, init1)  # the ranks drew different banks
    assert torch.equal(bank0, bank1)
    # expected: rank 0's initial bank, then per step the gathered rows of
    # rank 0 and rank 1 updated by view a, then by view b
    expected = init0.clone()
    for step in range(STEPS):
        idx = _touched(0, step) + _touched(1, step)
        for view in range(2):
            f = torch.cat([feats0[step][view], feats1[step][view]])
            expected[idx] = _momentum(expected[idx], f)
    torch.testing.assert_close(bank0, expected, rtol=1e-5, atol=1e-6)
    touched = [i for r in range(2) for s in range(STEPS)
               for i in _touched(r, s)]
    untouched = sorted(set(range(BANK)) - set(touched))
    assert torch.equal(bank0[untouched], init0[untouched])
    # updated rows are unit vectors; the initial ones are not (uniform init)
    torch.testing.assert_close(bank0[touched].norm(dim=1),
                               torch.ones(len(touched)))
    assert not torch.allclose(init0.norm(dim=1), torch.ones(BANK))
