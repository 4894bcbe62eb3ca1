"""Instance-discrimination losses against a memory bank (NPID, Wu et al. 2018).

`Unsupervised Feature Learning via Non-Parametric Instance Discrimination
<https://arxiv.org/abs/1805.01978>`_.
"""
import torch
import torch.nn.functional as F


def nonparametric_softmax_loss(feats: torch.Tensor, bank: torch.Tensor,
                               indices: torch.Tensor,
                               temperature: float) -> torch.Tensor:
    """Full non-parametric softmax over the whole bank (NPID with nce_k=0).

    ``-log exp(v_i.f / T) / sum_j exp(v_j.f / T)`` averaged over the batch.

    Args:
        feats (Tensor): (N, D) unit features f.
        bank (Tensor): (M, D) unit bank rows v (no gradient flows into them).
        indices (Tensor): (N,) row of each sample in the bank.
        temperature (float): T. 0.1 in NPID.

    Returns:
        Tensor: scalar loss.
    """
    # logits: NxM
    logits = feats @ bank.detach().t() / temperature
    return F.cross_entropy(logits, indices)


def nce_loss(feats: torch.Tensor, bank: torch.Tensor, indices: torch.Tensor,
             noise_indices: torch.Tensor, temperature: float,
             z: float) -> torch.Tensor:
    """Noise-contrastive estimation with k uniform noise samples (NPID).

    ``P(i|f) = exp(v_i.f / T) / Z``; with noise distribution P_n = 1/M the
    posterior of "data" is ``h = P / (P + k P_n)`` and the loss is
    ``-[log h(pos) + sum_noise log(1 - h(noise))]`` averaged over the batch.

    Args:
        feats (Tensor): (N, D) unit features.
        bank (Tensor): (M, D) unit bank rows.
        indices (Tensor): (N,) positive rows.
        noise_indices (Tensor): (N, k) sampled noise rows.
        temperature (float): T.
        z (float): the normalisation constant Z (NPID estimates it once, from
            the first batch, as ``mean(exp(v.f / T)) * M``).

    Returns:
        Tensor: scalar loss.
    """
    num_rows = bank.shape[0]
    k = noise_indices.shape[1]
    rows = torch.cat([indices[:, None], noise_indices], dim=1)  # N x (k+1)
    # scores: N x (k+1)
    p = torch.exp(torch.einsum('nkd,nd->nk', bank.detach()[rows], feats) /
                  temperature) / z
    kpn = k / num_rows
    eps = 1e-7
    log_pos = torch.log(p[:, 0] / (p[:, 0] + kpn + eps))
    log_noise = torch.log(kpn / (p[:, 1:] + kpn + eps)).sum(dim=1)
    return -(log_pos + log_noise).mean()


def nce_normaliser(feats: torch.Tensor, bank: torch.Tensor,
                   noise_indices: torch.Tensor, temperature: float) -> float:
    """NPID's one-off estimate of Z: ``mean(exp(v.f / T)) * M`` over a batch."""
    scores = torch.einsum('nkd,nd->nk', bank[noise_indices], feats.detach())
    return float(torch.exp(scores / temperature).mean() * bank.shape[0])
