"""Differentiable closed-form solvers shared by meta-learning papers with closed-form adaptation.

Every function is batched over leading dimensions (tasks) and differentiable with autograd, so a
meta-learner can back-propagate a query loss through the adaptation (``torch.autograd.gradcheck``
passes in float64; see tests/test_common_meta.py).

Shapes: ``h`` (..., N, K) feature/embedding matrices of N instances; optional ``mask`` (..., N)
(1 = real instance, 0 = padding) for sets of different sizes in one batch.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _masked_mean_rows(h: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """(weights (..., N, 1) summing to 1 over N, count (..., 1, 1))."""
    if mask is None:
        n = h.shape[-2]
        w = torch.full(h.shape[:-1] + (1,), 1.0 / n, dtype=h.dtype, device=h.device)
        return w, torch.full(h.shape[:-2] + (1, 1), float(n), dtype=h.dtype, device=h.device)
    m = mask.to(h.dtype).unsqueeze(-1)
    cnt = m.sum(-2, keepdim=True).clamp_min(1.0)
    return m / cnt, cnt


def solve_spd(a: Tensor, b: Tensor) -> Tensor:
    """Solve ``a x = b`` for symmetric positive-definite ``a`` (..., K, K); ``b`` (..., K) or (..., K, M).

    Cholesky factorisation (differentiable); falls back to LU (``torch.linalg.solve``) for the
    batch entries whose factorisation fails numerically.
    """
    vec = b.dim() == a.dim() - 1
    rhs = b.unsqueeze(-1) if vec else b
    chol, info = torch.linalg.cholesky_ex(a)
    if bool((info == 0).all()):
        x = torch.cholesky_solve(rhs, chol)
    else:
        x = torch.linalg.solve(a, rhs)
    return x.squeeze(-1) if vec else x


def weighted_ridge(phi: Tensor, targets: Tensor, weights: Tensor, lam: Tensor | float) -> Tensor:
    """Weighted ridge regression in closed form (a differentiable adaptation head).

    ``argmin_W sum_n w_n ||t_n - phi_n W||^2 + lam ||W||^2 = (Phi^T diag(w) Phi + lam I)^-1 Phi^T diag(w) T``.
    ``phi`` (..., N, K), ``targets`` (..., N, M), ``weights`` (..., N) (0 drops an instance, e.g. padding or
    an unlabelled one), ``lam`` a scalar or one per task (...). With unit weights it equals least squares on
    ``[Phi; sqrt(lam) I]`` (``torch.linalg.lstsq``; tested).
    """
    pw = phi * weights.unsqueeze(-1)
    eye = torch.eye(phi.shape[-1], dtype=phi.dtype, device=phi.device)
    lam = torch.as_tensor(lam, dtype=phi.dtype, device=phi.device)
    lam = lam.reshape(lam.shape + (1, 1)) if lam.dim() else lam
    return solve_spd(pw.transpose(-1, -2) @ phi + lam * eye, pw.transpose(-1, -2) @ targets)


def relative_density_ratio_closed_form(h_a: Tensor, h_b: Tensor, alpha: float, lam: Tensor | float,
                                       mask_a: Tensor | None = None, mask_b: Tensor | None = None) -> Tensor:
    """Linear-in-features relative density ratio ``r(x) = w^T h(x)`` of p_A / (alpha p_A + (1-alpha) p_B).

    Minimiser of the empirical squared loss (RuLSIF form, Yamada et al. 2011/2013)::

        J(w) = alpha/2 mean_A (w^T h)^2 + (1-alpha)/2 mean_B (w^T h)^2 - mean_A w^T h + lam/2 ||w||^2

    i.e. ``w = (alpha H_A + (1-alpha) H_B + lam I)^-1 hbar_A`` with ``H_S = mean_S h h^T`` and
    ``hbar_A = mean_A h``. With ``alpha = 0`` this is uLSIF's solution for the plain ratio.
    """
    if not 0.0 <= alpha < 1.0 + 1e-12:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    wa, _ = _masked_mean_rows(h_a, mask_a)
    wb, _ = _masked_mean_rows(h_b, mask_b)
    k = h_a.shape[-1]
    eye = torch.eye(k, dtype=h_a.dtype, device=h_a.device)
    lam = torch.as_tensor(lam, dtype=h_a.dtype, device=h_a.device)
    lam = lam.reshape(lam.shape + (1, 1)) if lam.dim() else lam
    big_h = alpha * (h_a * wa).transpose(-1, -2) @ h_a + (1.0 - alpha) * (h_b * wb).transpose(-1, -2) @ h_b
    hbar = (h_a * wa).sum(-2)
    return solve_spd(big_h + lam * eye, hbar)


def _masked_mean(v: Tensor, mask: Tensor | None) -> Tensor:
    if mask is None:
        return v.mean(-1)
    m = mask.to(v.dtype)
    return (v * m).sum(-1) / m.sum(-1).clamp_min(1.0)


def rulsif_squared_loss(r_a: Tensor, r_b: Tensor, alpha: float, mask_a: Tensor | None = None,
                        mask_b: Tensor | None = None) -> Tensor:
    """Empirical relative-DRE squared error ``alpha/2 E_A r^2 + (1-alpha)/2 E_B r^2 - E_A r`` per task.

    It equals ``1/2 E_{q_alpha}[(r - r_alpha)^2] - 1/2 E_{q_alpha}[r_alpha^2]`` with
    ``q_alpha = alpha p_A + (1-alpha) p_B``: up to a constant of the task, the mean squared error
    to the true relative density ratio ``r_alpha`` (so differences between estimators are exact).
    ``r_a``/``r_b``: (..., N_A) / (..., N_B) ratio values at instances of A / B.
    """
    return (0.5 * alpha * _masked_mean(r_a ** 2, mask_a) + 0.5 * (1 - alpha) * _masked_mean(r_b ** 2, mask_b)
            - _masked_mean(r_a, mask_a))


def pearson_divergence(r_a: Tensor, r_b: Tensor, alpha: float, mask_a: Tensor | None = None,
                       mask_b: Tensor | None = None) -> Tensor:
    """Relative Pearson divergence estimate PE_alpha(p_A || p_B) from ratio values (Yamada et al., Eq. 5).

    ``PE = -alpha/2 E_A r^2 - (1-alpha)/2 E_B r^2 + E_A r - 1/2`` = ``-rulsif_squared_loss - 1/2``.
    """
    return -rulsif_squared_loss(r_a, r_b, alpha, mask_a, mask_b) - 0.5
