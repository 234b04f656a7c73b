"""Meta-SVDD (Dahia & Segundo 2020, "Meta Learning for Few-Shot One-class Classification"): per task,
the (hard) Support Vector Data Description of the embedded support normals, solved exactly and
differentiated, with the encoder meta-trained through it.

SVDD of embeddings z_1..z_N (the minimum enclosing ball): centre c = sum_i alpha_i z_i with

    alpha* = argmin_alpha  alpha^T K alpha - diag(K)^T alpha   s.t.  alpha >= 0, sum_i alpha_i = 1,

K = Z Z^T + eps I (the dual of min_{c,R} R^2 s.t. ||z_i - c||^2 <= R^2; eps I as in the authors'
formulation keeps the problem strictly convex). The value at the optimum is the squared radius R^2.

Forward: an exact active-set solve per task (numpy, float64): 50 projected-gradient steps on the
simplex as a warm start (batched over tasks), then KKT solves on the active set S, dropping negative multipliers and adding points
outside the ball until the KKT conditions hold. Backward: on S the KKT system

    [2 K_SS  1] [alpha_S]   [diag(K)_S]
    [1^T     0] [  nu   ] = [    1    ]

is solved again in torch, so autograd differentiates alpha (hence c) through it: the implicit
derivative of the QP with the active set held fixed (what a differentiable QP layer returns; the
authors used one, qpth / cvxpylayers). Pure functions of tensors: no file I/O.
"""

from __future__ import annotations

import numpy as np
import torch


def _simplex_projection(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of v onto the probability simplex."""
    u = -np.sort(-v, axis=-1)
    css = np.cumsum(u, axis=-1) - 1.0
    k = np.arange(1, v.shape[-1] + 1)
    rho = (u - css / k > 0).sum(-1, keepdims=True)
    theta = np.take_along_axis(css, rho - 1, axis=-1) / rho
    return np.maximum(v - theta, 0.0)


def _kkt_alpha(k: np.ndarray, active: np.ndarray) -> np.ndarray:
    s = np.flatnonzero(active)
    m = np.zeros((len(s) + 1, len(s) + 1))
    m[:-1, :-1] = 2 * k[np.ix_(s, s)]
    m[:-1, -1] = m[-1, :-1] = 1.0
    rhs = np.r_[np.diag(k)[s], 1.0]
    alpha = np.zeros(len(k))
    alpha[s] = np.linalg.solve(m, rhs)[:-1]
    return alpha


def _warm_start(k: np.ndarray, iters: int) -> np.ndarray:
    """Projected gradient on the simplex, batched over tasks: k (T, N, N) -> alpha (T, N)."""
    t, n, _ = k.shape
    diag = np.diagonal(k, axis1=-2, axis2=-1)
    step = 1.0 / (2 * np.abs(k).sum(-1).max(-1, keepdims=True) + 1e-12)   # 1 / (2 * bound on lambda_max)
    a = np.full((t, n), 1.0 / n)
    for _ in range(iters):
        a = _simplex_projection(a - step * (2 * np.einsum("tij,tj->ti", k, a) - diag))
    return a


def active_set(k: np.ndarray, alpha0: np.ndarray | None = None, tol: float = 1e-9) -> np.ndarray:
    """Boolean mask of the points with alpha_i > 0 at the optimum of the SVDD dual with kernel k (N, N),
    from a warm start alpha0 (refined by the KKT conditions, so the warm start only saves iterations)."""
    n = len(k)
    a = _warm_start(k[None], 50)[0] if alpha0 is None else alpha0
    active = a > 1e-3 * a.max()
    scale = max(float(np.abs(np.diag(k)).max()), 1e-12)
    for _ in range(4 * n):
        alpha = _kkt_alpha(k, active)
        if alpha[active].min() < -tol:                      # drop the most negative multiplier
            active[np.flatnonzero(active)[np.argmin(alpha[active])]] = False
            continue
        d2 = np.diag(k) - 2 * k @ alpha + alpha @ k @ alpha   # ||z_i - c||^2 (kernel with the eps term)
        r2 = d2[active].max()
        out = np.flatnonzero(~active & (d2 > r2 + tol * scale))
        if len(out) == 0:
            return active
        active[out[np.argmax(d2[out])]] = True               # add the farthest point outside the ball
    raise RuntimeError("SVDD active-set solve did not converge")


def svdd_alpha(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """alpha* (T, N) of the SVDD dual of z (T, N, d), differentiable in z (active set held fixed)."""
    t, n, _ = z.shape
    eye = torch.eye(n, dtype=z.dtype, device=z.device)
    k = z @ z.transpose(-1, -2) + eps * eye
    kn = k.detach().double().cpu().numpy()
    a0 = _warm_start(kn, 50)
    act = torch.as_tensor(np.stack([active_set(kn[i], a0[i]) for i in range(t)]), device=z.device)
    # batched KKT system on the active set; inactive rows are identity rows (alpha_i = 0)
    am = act.to(z.dtype)
    both = am.unsqueeze(-1) * am.unsqueeze(-2)
    top = torch.where(both.bool(), 2 * k, torch.diag_embed(1 - am))
    m = torch.cat([torch.cat([top, am.unsqueeze(-1)], -1),
                   torch.cat([am, torch.zeros(t, 1, dtype=z.dtype, device=z.device)], -1).unsqueeze(-2)], -2)
    rhs = torch.cat([am * torch.diagonal(k, dim1=-2, dim2=-1), torch.ones(t, 1, dtype=z.dtype, device=z.device)], -1)
    return torch.linalg.solve(m, rhs.unsqueeze(-1)).squeeze(-1)[:, :n] * am


def svdd_centre(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Centre c (T, d) of the minimum enclosing ball of z (T, N, d)."""
    return (svdd_alpha(z, eps).unsqueeze(-1) * z).sum(-2)


def squared_radius(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The SVDD objective at centre c: max_i ||z_i - c||^2, (T,)."""
    return (z - c.unsqueeze(-2)).pow(2).sum(-1).amax(-1)
