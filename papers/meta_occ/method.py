"""The paper's contribution: a one-class classifier per task from a generalized eigenvalue problem,
with an encoder meta-trained through the (differentiable) solver.

For a task with embedded support normals z_1..z_N and anomalies a_1..a_M (z = f(x), f the encoder):

    mu = mean_n z_n
    B  = (1/N) sum_n (z_n - mu)(z_n - mu)^T + ridge I        (normal scatter: to keep small)
    A  = (1/M) sum_m (a_m - mu)(a_m - mu)^T + gamma I        (anomaly scatter around the normal centre: to keep large)
    W* = argmax_W tr(W^T A W)  s.t.  W^T B W = I,  W in R^{d x r}

The global optimum W* is the r leading generalized eigenvectors of A w = lambda B w
(``common.meta.eigen.generalized_eigh``: Cholesky whitening + eigh, differentiable, with the
broadened eigen-gradient guard). The anomaly score of x is s(x) = ||W*^T (f(x) - mu)||^2: small for
instances close to the normal centre in the directions where normals are compact and anomalies
spread. The encoder is meta-trained to rank query anomalies above query normals after this
adaptation (pairwise logistic AUROC surrogate on log-scores), across many tasks.

Reconstructed (ours; the paper's method section could not be read): the exact form of A and B
(anomaly scatter around the normal mean, ridge and gamma terms), the subspace rank r, the score,
and the AUROC-surrogate meta-loss. Pure functions of tensors: no file I/O.
"""

from __future__ import annotations

import torch

from common.meta.eigen import generalized_eigh


def scatter_matrices(zn: torch.Tensor, za: torch.Tensor, ridge: float, gamma: float):
    """(A, B, mu) of the module docstring; zn (T, N, d), za (T, M, d), batched over tasks T."""
    mu = zn.mean(-2, keepdim=True)
    cn, ca = zn - mu, za - mu
    eye = torch.eye(zn.shape[-1], dtype=zn.dtype, device=zn.device)
    b = cn.transpose(-1, -2) @ cn / zn.shape[-2] + ridge * eye
    a = ca.transpose(-1, -2) @ ca / za.shape[-2] + gamma * eye
    return a, b, mu


def fit_subspace(zn: torch.Tensor, za: torch.Tensor, rank: int, ridge: float, gamma: float,
                 eps_rel: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """(W (T, d, r): the r leading generalized eigenvectors, mu (T, 1, d))."""
    a, b, mu = scatter_matrices(zn, za, ridge, gamma)
    _, w = generalized_eigh(a, b, eps_rel)
    return w[..., -rank:], mu


def anomaly_score(z: torch.Tensor, w: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """s(x) = ||W^T (z - mu)||^2 for z (T, Q, d) -> (T, Q)."""
    return ((z - mu) @ w).pow(2).sum(-1)


def auc_surrogate_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over tasks and (anomaly, normal) query pairs of softplus(-(log s_a - log s_n))."""
    s = torch.log(scores + 1e-8)
    pos = labels.bool()
    diff = s.unsqueeze(-1) - s.unsqueeze(-2)                 # diff[t, i, j] = s_i - s_j
    mask = (pos.unsqueeze(-1) & ~pos.unsqueeze(-2)).to(s.dtype)
    return (torch.nn.functional.softplus(-diff) * mask).sum() / mask.sum()


def task_scores(encoder, xs: torch.Tensor, ys: torch.Tensor, xq: torch.Tensor, rank: int, ridge: float,
                gamma: float, eps_rel: float = 1e-8) -> torch.Tensor:
    """Adapt to a batch of tasks (xs (T, N+M, D), ys (T, N+M) with the same layout in every task) and
    score the queries xq (T, Q, D)."""
    zs, zq = encoder(xs), encoder(xq)
    normal = ys[0] == 0
    w, mu = fit_subspace(zs[:, normal], zs[:, ~normal], rank, ridge, gamma, eps_rel)
    return anomaly_score(zq, w, mu)
