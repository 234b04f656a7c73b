"""The paper's contribution: out-of-distribution (OoD) detection by density estimation in a meta-learned
latent space, with a class-wise Gaussian mixture adapted to each task in closed form.

For a task with in-distribution (ID) support instances x_m of N classes (labels y_m) and an encoder f
shared by all tasks, z_m = f(x_m):

    pi_c    = n_c / M                                                      mixture weight of class c
    mu_c    = (1 / n_c) sum_{m: y_m = c} z_m                               class mean
    Sigma_c = (1 / n_c) sum_{m: y_m = c} (z_m - mu_c)(z_m - mu_c)^T + ridge I   class covariance (full)
    log p(z) = log sum_c pi_c N(z; mu_c, Sigma_c)
    s(x)     = -log p(f(x))                                                OoD score

pi, mu and Sigma (without the ridge) are the maximum-likelihood estimates of a Gaussian mixture whose
component memberships are the known class labels (one component per ID class: the M-step of EM with
one-hot responsibilities), so the adaptation needs no iteration and is differentiable. The encoder is
meta-trained across tasks drawn from the meta-training classes so that, after this adaptation to the
support set, OoD queries score higher than ID queries (``auc_surrogate_loss``).

Ablations: ``covariance="diag"`` keeps the diagonal of each Sigma_c; ``covariance="shared"`` uses one
covariance for every class, the pooled within-class ML estimate sum_c n_c Sigma_c / M (+ ridge I)
(scikit-learn's "tied").

Reconstructed (ours; the paper's method section could not be read): the ridge on the covariances, the
mixture weights n_c / M, the meta-training objective (a pairwise logistic surrogate of the AUROC on
the NLL scores, scaled by the latent dimension) and the encoder architecture (``models.py``).
Pure functions of tensors: no file I/O. ``gaussian_mixture_closed_form`` and ``mixture_log_likelihood``
are generic (batched, masks by zero responsibility) and are the candidates for ``common.meta``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

COVARIANCES = ("full", "diag", "shared")


def gaussian_mixture_closed_form(z: Tensor, resp: Tensor, ridge: float, covariance: str = "full"
                                 ) -> tuple[Tensor, Tensor, Tensor]:
    """Maximum-likelihood Gaussian mixture for known (or fixed soft) memberships, batched over tasks.

    Args:
        z: (T, M, d) instances; resp: (T, M, C) responsibilities (one-hot class labels; rows of padding
        are all zero); ridge: added to the diagonal of every covariance; covariance: full | diag | shared.

    Returns (weights (T, C), means (T, C, d), covariances (T, C, d, d)); diagonal and shared covariances
    are returned as full matrices (diagonal / identical across C). Identical to the M-step of
    scikit-learn's ``GaussianMixture`` with ``reg_covar = ridge`` (covariance_type full / diag / tied).
    """
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {COVARIANCES}, got {covariance!r}")
    nk = resp.sum(-2)                                                   # (T, C)
    if bool((nk <= 0).any()):
        raise ValueError("every mixture component needs at least one instance (a class without support)")
    weights = nk / nk.sum(-1, keepdim=True)
    means = resp.transpose(-1, -2) @ z / nk.unsqueeze(-1)               # (T, C, d)
    diff = z.unsqueeze(-3) - means.unsqueeze(-2)                        # (T, C, M, d)
    rd = resp.transpose(-1, -2).unsqueeze(-1) * diff                    # responsibility-weighted
    scatter = rd.transpose(-1, -2) @ diff                               # (T, C, d, d): sum_m r_mc dz dz^T
    eye = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)
    if covariance == "shared":
        cov = (scatter.sum(-3) / nk.sum(-1)[..., None, None]).unsqueeze(-3).expand_as(scatter)
    else:
        cov = scatter / nk[..., None, None]
        if covariance == "diag":
            cov = torch.diag_embed(torch.diagonal(cov, dim1=-2, dim2=-1))
    return weights, means, cov + ridge * eye


def mixture_log_likelihood(zq: Tensor, weights: Tensor, means: Tensor, covs: Tensor) -> Tensor:
    """log sum_c w_c N(zq; mu_c, Sigma_c) for zq (T, Q, d) -> (T, Q) (Cholesky; differentiable)."""
    d = zq.shape[-1]
    chol = torch.linalg.cholesky(covs)                                  # (T, C, d, d)
    diff = (zq.unsqueeze(-3) - means.unsqueeze(-2)).transpose(-1, -2)   # (T, C, d, Q)
    sol = torch.linalg.solve_triangular(chol, diff, upper=False)        # L^-1 (z - mu)
    maha = sol.pow(2).sum(-2)                                           # (T, C, Q)
    logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)   # (T, C)
    log_comp = -0.5 * (d * math.log(2 * math.pi) + logdet.unsqueeze(-1) + maha)
    return torch.logsumexp(torch.log(weights).unsqueeze(-1) + log_comp, dim=-2)


def one_hot_support(n_way: int, k_shot: int, n_tasks: int, dtype=torch.float32, device=None) -> Tensor:
    """Responsibilities (T, N*K, N) of a class-major support layout (K instances of class 0, then class 1, ...)."""
    r = torch.eye(n_way, dtype=dtype, device=device).repeat_interleave(k_shot, dim=0)
    return r.expand(n_tasks, -1, -1)


def ood_scores(zs: Tensor, resp: Tensor, zq: Tensor, ridge: float, covariance: str = "full") -> Tensor:
    """Negative log-likelihood of the queries zq (T, Q, d) under the mixture fitted to zs (T, M, d)."""
    w, mu, cov = gaussian_mixture_closed_form(zs, resp, ridge, covariance)
    return -mixture_log_likelihood(zq, w, mu, cov)


def task_scores(encoder, xs: Tensor, resp: Tensor, xq: Tensor, ridge: float, covariance: str = "full") -> Tensor:
    """Encode support xs (T, M, D) and queries xq (T, Q, D), adapt, and score the queries (T, Q)."""
    return ood_scores(encoder(xs), resp, encoder(xq), ridge, covariance)


def auc_surrogate_loss(scores: Tensor, is_ood: Tensor, scale: float = 1.0) -> Tensor:
    """Meta-training loss (ours): mean over tasks and (OoD, ID) query pairs of softplus(-(s_ood - s_id) / scale),
    a smooth upper bound of 1 - AUROC (up to log 2) that is small when OoD queries score above ID ones."""
    ood = is_ood.bool().expand_as(scores)
    diff = (scores.unsqueeze(-1) - scores.unsqueeze(-2)) / scale       # [t, i, j] = s_i - s_j
    mask = (ood.unsqueeze(-1) & ~ood.unsqueeze(-2)).to(scores.dtype)
    return (torch.nn.functional.softplus(-diff) * mask).sum() / mask.sum()
