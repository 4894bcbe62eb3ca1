"""Distributed helpers: an all-gather and an all-reduce that keep gradients.

:func:`all_gather_with_grad` lets a loss see the rows of every rank and send
gradients back to them (CLD's global-batch clustering,
:func:`cld_mm.models.losses.global_cross_level_loss`). A plain pass-through
in a non-distributed process. :func:`all_reduce_with_grad` sums a tensor over
the ranks and sends every rank's gradient back through the sum (SMoG's
group update).
"""
import torch
import torch.distributed as torch_dist
from mmengine.dist import all_reduce, get_rank, get_world_size


class _AllGatherGrad(torch.autograd.Function):
    """Concatenate every rank's rows; backward sums the ranks' gradients.

    The backward all-reduces (sums) the gradient of the gathered tensor over
    the ranks and returns this rank's rows, so the local rows receive the
    gradient of every rank's loss (through the global centroids too).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.rows = get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(get_world_size())]
        torch_dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        torch_dist.all_reduce(grad)
        start = ctx.rank * ctx.rows
        return grad[start:start + ctx.rows]


def _check_equal_rows(x: torch.Tensor) -> None:
    """Raise if the ranks hold different numbers of rows."""
    n = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.empty_like(n) for _ in range(get_world_size())]
    torch_dist.all_gather(sizes, n)
    sizes = [int(s) for s in sizes]
    if len(set(sizes)) != 1:
        raise ValueError(
            f'global-batch clustering needs the same batch size on every '
            f'rank, got {sizes} (use drop_last=True in the train dataloader)')


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) local rows -> (world_size * N, ...) rows of all ranks.

    Rank r's rows sit at ``[r * N, (r + 1) * N)``. The gathered tensor is
    differentiable: this rank's rows get the sum over the ranks of the
    gradients their losses send to them (the other ranks' rows are their own
    ranks' leaves). Every rank must hold the same N. Identity in one process.

    Args:
        x (Tensor): (N, ...) local rows.

    Returns:
        Tensor: (world_size * N, ...) rows.
    """
    if get_world_size() == 1:
        return x
    _check_equal_rows(x)
    return _AllGatherGrad.apply(x)


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the backward sums the incoming gradient over ranks."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        total = x.clone()
        all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # d (sum_r x_r) / d x_s = I: rank s receives sum_r dL_r / d total
        grad = grad.clone()
        all_reduce(grad)
        return grad


def all_reduce_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks whose backward sums the gradient over ranks.

    Each rank's features then receive the gradient of every rank's loss
    through the sum. One process: ``x`` itself.
    """
    if get_world_size() == 1:
        return x
    return _AllReduceSum.apply(x)
