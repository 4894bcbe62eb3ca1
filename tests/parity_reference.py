"""Plain-PyTorch statements of the CLD, NPID, MoCo and BYOL equations.

The whole-step parity tests compare one training step of a cld_mm model with
these functions. Nothing here imports cld_mm: the equations are written from
the papers (and, where they differ, from the authors' code, as each function
says), in the most direct form rather than the fast one, so that a mistake
shared with the code under test is unlikely.

Notation: N rows per view, D feature size, K clusters, M bank rows.
"""
import copy
from typing import Dict, Iterable, Tuple

import torch
from torch.func import functional_call

Tensor = torch.Tensor

# ---------------------------------------------------------------- networks


def leaves(module: torch.nn.Module) -> Dict[str, Tensor]:
    """Detached float64 copies of a module's parameters, requiring grad."""
    return {name: p.detach().clone().requires_grad_(True)
            for name, p in module.named_parameters()}


class Backbone:
    """The model's backbone used as a function of given parameters.

    A deep copy of the module, so its batch-norm buffers advance exactly as
    the model's do, without touching the model.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = copy.deepcopy(module)

    def __call__(self, params: Dict[str, Tensor], img: Tensor) -> Tensor:
        """(N, C, h, w) last-stage feature map."""
        return functional_call(self.module, params, (img, ))[-1]


def pool(x: Tensor) -> Tensor:
    """Global average pool: (N, C, h, w) -> (N, C)."""
    return x.mean(dim=(2, 3))


def linear(x: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """``x W^T + b`` with an nn.Linear-shaped (out, in) weight."""
    out = torch.einsum('nc,oc->no', x, weight)
    return out if bias is None else out + bias


def unit(x: Tensor) -> Tensor:
    """Rows scaled to unit L2 norm."""
    return x / x.pow(2).sum(dim=1, keepdim=True).sqrt()


def norm_linear(x: Tensor, weight: Tensor) -> Tensor:
    """CLD's normalized layer: cosine of x with every column of (in, out) W."""
    return unit(x) @ (weight / weight.pow(2).sum(dim=0, keepdim=True).sqrt())


def batch_norm_train(x: Tensor, weight: Tensor, bias: Tensor,
                     state: Dict[str, Tensor], prefix: str,
                     eps: float = 1e-5, momentum: float = 0.1) -> Tensor:
    """BatchNorm1d in train mode; updates ``state``'s running statistics."""
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    n = x.shape[0]
    with torch.no_grad():
        state[prefix + 'running_mean'] = ((1 - momentum) *
                                          state[prefix + 'running_mean'] +
                                          momentum * mean)
        state[prefix + 'running_var'] = ((1 - momentum) *
                                         state[prefix + 'running_var'] +
                                         momentum * var * n / (n - 1))
        state[prefix + 'num_batches_tracked'] = \
            state[prefix + 'num_batches_tracked'] + 1
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


# ---------------------------------------------------------------- CLD


def kmeans_first_k(x: Tensor, k: int, num_iters: int = 5
                   ) -> Tuple[Tensor, Tensor]:
    """The CLD authors' batch k-means, as their scripts write it.

    Initial centroids: the first K rows. Each iteration: labels = argmin of
    the squared Euclidean distances (broadcast form), then each centroid is
    the sum of its rows divided by max(count, 1) (an empty cluster gives the
    zero vector). The returned centroids are the means of the last
    assignment: not re-normalized, not detached (gradients reach x).
    """
    centroids = x[:k]
    for _ in range(num_iters):
        # squared distances: NxK
        dist = ((x.detach()[:, None, :] -
                 centroids.detach()[None, :, :]) ** 2).sum(-1)
        labels = dist.argmin(dim=1)
        rows = []
        for j in range(k):
            members = x[labels == j]
            rows.append(members.sum(0) / max(members.shape[0], 1))
        centroids = torch.stack(rows)
    return labels, centroids


def cross_level(fa: Tensor, fb: Tensor, k: int, temperature: float,
                num_iters: int = 5) -> Dict[str, Tensor]:
    """L_CLD = 1/2 [CE(f_a C_b^T / T, y_b) + CE(f_b C_a^T / T, y_a)].

    Returns the loss (without lambda), the group accuracy (percent of rows
    of view a whose top-1 centroid of view b is y_b) and the mean number of
    non-empty clusters of the two views.
    """
    ya, ca = kmeans_first_k(fa, k, num_iters)
    yb, cb = kmeans_first_k(fb, k, num_iters)

    def ce(logits, target):
        return (torch.logsumexp(logits, dim=1) -
                logits.gather(1, target[:, None])[:, 0]).mean()

    logits_ab = fa @ cb.t() / temperature
    loss = 0.5 * (ce(logits_ab, yb) + ce(fb @ ca.t() / temperature, ya))
    acc = 100.0 * (logits_ab.argmax(1) == yb).double().mean()
    groups = 0.5 * (len(set(ya.tolist())) + len(set(yb.tolist())))
    return dict(loss=loss, acc=acc, groups=torch.tensor(groups))


# ---------------------------------------------------------------- NPID


def npid_softmax(f: Tensor, bank: Tensor, idx: Tensor,
                 temperature: float) -> Tensor:
    """NPID eq. (2): -log exp(v_i.f/T) / sum_j exp(v_j.f/T), batch mean."""
    logits = f @ bank.t() / temperature
    return (torch.logsumexp(logits, dim=1) -
            logits[torch.arange(len(idx)), idx]).mean()


def npid_nce(f: Tensor, bank: Tensor, idx: Tensor, noise: Tensor,
             temperature: float, z: float, eps: float = 1e-7) -> Tensor:
    """NPID eqs. (3)-(5): NCE with k uniform noise rows (P_n = 1/M).

    ``P(i|f) = exp(v_i.f/T) / Z``, ``h = P / (P + k/M)``; the loss is
    ``-[log h(positive) + sum_noise log(1 - h)]`` averaged over the batch.
    ``eps`` in the denominators as in the NPID code (NCECriterion).
    """
    m = bank.shape[0]
    kpn = noise.shape[1] / m
    p_pos = torch.exp((bank[idx] * f).sum(1) / temperature) / z
    p_noise = torch.exp((bank[noise] * f[:, None, :]).sum(-1) /
                        temperature) / z
    log_h = torch.log(p_pos / (p_pos + kpn + eps))
    log_1mh = torch.log(kpn / (p_noise + kpn + eps)).sum(1)
    return -(log_h + log_1mh).mean()


def npid_z(f: Tensor, bank: Tensor, noise: Tensor, temperature: float
           ) -> float:
    """NPID's Monte-Carlo estimate Z = M * mean_noise exp(v_j.f/T)."""
    return float(torch.exp((bank[noise] * f.detach()[:, None, :]).sum(-1) /
                           temperature).mean() * bank.shape[0])


def bank_update(bank: Tensor, idx: Tensor, views: Iterable[Tensor],
                momentum: float) -> Tensor:
    """v_i <- (m v_i + (1 - m) f_i) / |...|, view after view (in order)."""
    bank = bank.clone()
    for f in views:
        for row, i in enumerate(idx.tolist()):
            v = momentum * bank[i] + (1 - momentum) * f[row].detach()
            bank[i] = v / v.norm()
    return bank


# ---------------------------------------------------------------- MoCo, BYOL


def info_nce(q: Tensor, k: Tensor, queue: Tensor, temperature: float
             ) -> Tensor:
    """MoCo eq. (1): -log exp(q.k+/T) / (exp(q.k+/T) + sum exp(q.k-/T));
    ``queue`` is (D, L), its columns the negatives."""
    pos = (q * k).sum(1, keepdim=True)
    logits = torch.cat([pos, q @ queue], dim=1) / temperature
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


def enqueue(queue: Tensor, ptr: int, keys: Tensor) -> Tuple[Tensor, int]:
    """Columns ``ptr .. ptr+N-1`` of the (D, L) queue become the keys."""
    queue = queue.clone()
    for row in range(keys.shape[0]):
        queue[:, (ptr + row) % queue.shape[1]] = keys[row]
    return queue, (ptr + keys.shape[0]) % queue.shape[1]


def ema(old: Tensor, new: Tensor, momentum: float) -> Tensor:
    """mmengine's convention: ``(1 - m) old + m new`` (m = 1 - MoCo's m)."""
    return (1 - momentum) * old + momentum * new


def byol_regression(p: Tensor, z: Tensor) -> Tensor:
    """BYOL eq. (2): |p/|p| - z/|z||^2 = 2 - 2 cos(p, z), batch mean."""
    return (unit(p) - unit(z.detach())).pow(2).sum(1).mean()


# ---------------------------------------------------------------- checks


def assert_close(actual: Tensor, expected: Tensor, what: str,
                 rtol: float = 1e-6) -> None:
    """Agreement to ``rtol`` of the expected tensor's largest magnitude."""
    actual = torch.as_tensor(actual, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    assert actual.shape == expected.shape, (what, actual.shape,
                                            expected.shape)
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    err = float((actual - expected).abs().max()) if expected.numel() else 0.0
    assert err <= rtol * scale + 1e-12, \
        f'{what}: max error {err:.3g} vs scale {scale:.3g}'


def assert_grads(parts: Dict[str, torch.nn.Module],
                 ref: Dict[str, Dict[str, Tensor]], total: Tensor,
                 model: torch.nn.Module) -> None:
    """Every trainable parameter of ``model`` lies in one of ``parts`` and
    its gradient equals d total / d (the reference leaf of the same name).
    """
    names = [(part, name) for part in ref for name in ref[part]]
    grads = torch.autograd.grad(total, [ref[p][n] for p, n in names],
                                allow_unused=True)
    covered = set()
    for (part, name), g in zip(names, grads):
        param = dict(parts[part].named_parameters())[name]
        covered.add(id(param))
        expected = torch.zeros_like(param) if g is None else g
        actual = torch.zeros_like(param) if param.grad is None else param.grad
        assert_close(actual, expected, f'grad of {part}.{name}')
    trainable = {id(p): n for n, p in model.named_parameters()
                 if p.requires_grad}
    missed = sorted(n for i, n in trainable.items() if i not in covered)
    assert not missed, f'parameters the reference does not cover: {missed}'
