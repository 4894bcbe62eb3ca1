"""Global-batch clustering of CLD on 2 real gloo ranks."""
import torch
import torch.nn.functional as F

from dist_utils import run_gloo

N_LOCAL, DIM = 8, 6


def _data():
    g = torch.Generator().manual_seed(11)
    size = (2 * N_LOCAL, DIM)
    fa = F.normalize(torch.randn(size, generator=g, dtype=torch.float64), dim=1)
    noise = torch.randn(size, generator=g, dtype=torch.float64)
    fb = F.normalize(fa + 0.3 * noise, dim=1)
    return fa, fb


def _global_worker(rank, world_size, num_clusters):
    from cld_mm.models.losses import global_cross_level_loss
    from cld_mm.models.utils.dist import all_gather_with_grad
    fa_all, fb_all = _data()
    rows = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
    fa = fa_all[rows].clone().requires_grad_()
    fb = fb_all[rows].clone().requires_grad_()
    loss, stats = global_cross_level_loss(fa, fb, num_clusters, 0.2)
    loss.backward()
    # the plain gather: every rank sees the concatenated batch
    gathered = all_gather_with_grad(fa.detach())
    # CLDHead's random k-means init on the global batch: rank 0's seed on
    # every rank (identical clusterings), a new one at each step
    from cld_mm.models.heads import CLDHead
    head = CLDHead(num_clusters, init='random', global_clustering=True)
    torch.manual_seed(100 + rank)              # ranks' own RNGs differ
    draws = [torch.rand(4, generator=head._generator(fa.device))
             for _ in range(2)]
    return dict(loss=loss.detach(), labels_a=stats['labels_a'],
                labels_b=stats['labels_b'], grad_a=fa.grad, grad_b=fb.grad,
                gathered=gathered, draws=draws)


def _single(num_clusters):
    from cld_mm.models.losses import cross_level_loss
    from cld_mm.models.utils import batch_kmeans
    fa, fb = (t.clone().requires_grad_() for t in _data())
    loss = cross_level_loss(fa, fb, num_clusters, 0.2)
    loss.backward()
    return (loss.detach(), batch_kmeans(fa.detach(), num_clusters)[0],
            batch_kmeans(fb.detach(), num_clusters)[0], fa.grad, fb.grad)


def test_global_clustering_equals_single_process_clustering():
    # K = 10 > N_LOCAL: per-rank clustering would make every row its own
    # cluster; the global batch of 16 rows has real groups
    k = 10
    r0, r1 = run_gloo(_global_worker, 2, args=(k,))
    loss, labels_a, labels_b, grad_a, grad_b = _single(k)
    fa_all, _ = _data()
    assert torch.equal(r0['gathered'], fa_all)
    assert torch.equal(r1['gathered'], fa_all)
    for d0, d1 in zip(r0['draws'], r1['draws']):
        assert torch.equal(d0, d1)
    assert not torch.equal(r0['draws'][0], r0['draws'][1])
    assert torch.equal(torch.cat([r0['labels_a'], r1['labels_a']]), labels_a)
    assert torch.equal(torch.cat([r0['labels_b'], r1['labels_b']]), labels_b)
    assert labels_a.unique().numel() < 2 * N_LOCAL  # real groups formed
    # equal local batches: the mean of the ranks' losses is the global loss
    torch.testing.assert_close((r0['loss'] + r1['loss']) / 2, loss)
    # each rank's rows get world_size x the global loss's gradient (DDP's
    # gradient averaging divides by world_size)
    torch.testing.assert_close(
        torch.cat([r0['grad_a'], r1['grad_a']]) / 2, grad_a)
    torch.testing.assert_close(
        torch.cat([r0['grad_b'], r1['grad_b']]) / 2, grad_b)
