"""Differentiable symmetric-definite generalized eigenvalue solver  A w = lambda B w.

B is symmetric positive definite; the problem is reduced to a standard symmetric one by Cholesky
whitening, B = L L^T, C = L^{-1} A L^{-T}, C v = lambda v, w = L^{-T} v, so that W^T B W = I and
A W = B W diag(lambda) (ascending eigenvalues, as ``torch.linalg.eigh`` and
``scipy.linalg.eigh(A, B)`` return them). Every step is differentiable; the Cholesky factor and the
triangular solves use torch's own backward.

Guard of the eigen-gradient (``eigh_guarded``): the backward of a symmetric eigendecomposition
contains F_ij = 1 / (lambda_j - lambda_i), which is infinite at repeated eigenvalues and huge near
them (torch.linalg.eigh then returns inf/nan gradients). ``eigh_guarded`` uses the same forward but
replaces F_ij by the Lorentzian-broadened

    F_ij = (lambda_j - lambda_i) / ((lambda_j - lambda_i)^2 + eps)

which equals the exact value up to a relative error eps / gap^2 when the gap is large, is bounded by
1 / (2 sqrt(eps)) everywhere, and is 0 for exactly equal eigenvalues (where the eigenvectors are not
unique and only the invariant subspace has a gradient). ``eps`` is relative to the squared spectral
scale (``eps_rel * max(lambda^2, 1)``), so the guard does not depend on the units of A. With
``eps_rel = 0`` the backward is the exact (unguarded) one, which the tests check against gradcheck.
"""

from __future__ import annotations

import torch

DEFAULT_EPS_REL = 1e-8


class _GuardedEigh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: torch.Tensor, eps_rel: float):
        lam, vec = torch.linalg.eigh(a)
        ctx.save_for_backward(lam, vec)
        ctx.eps_rel = eps_rel
        return lam, vec

    @staticmethod
    def backward(ctx, g_lam: torch.Tensor | None, g_vec: torch.Tensor | None):
        lam, vec = ctx.saved_tensors
        vt = vec.transpose(-1, -2)
        inner = torch.zeros_like(vec)
        if g_vec is not None:
            gap = lam.unsqueeze(-2) - lam.unsqueeze(-1)          # gap[..., i, j] = lam_j - lam_i
            scale = lam.abs().amax(-1, keepdim=True).clamp_min(1.0).pow(2).unsqueeze(-1)
            eps = ctx.eps_rel * scale
            f = gap / (gap.pow(2) + eps)
            f = torch.where(gap == 0, torch.zeros_like(f), f)     # diagonal and exact ties
            inner = f * (vt @ g_vec)
        if g_lam is not None:
            inner = inner + torch.diag_embed(g_lam)
        g_a = vec @ inner @ vt
        return 0.5 * (g_a + g_a.transpose(-1, -2)), None


def eigh_guarded(a: torch.Tensor, eps_rel: float = DEFAULT_EPS_REL) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvalues ascending, eigenvectors as columns) of the symmetric ``a`` (batched), with the
    broadened backward of the module docstring. ``a`` is symmetrised first."""
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"eigh_guarded needs square matrices, got shape {tuple(a.shape)}")
    if eps_rel < 0:
        raise ValueError(f"eps_rel must be >= 0, got {eps_rel}")
    a = 0.5 * (a + a.transpose(-1, -2))
    return _GuardedEigh.apply(a, float(eps_rel))


def generalized_eigh(a: torch.Tensor, b: torch.Tensor, eps_rel: float = DEFAULT_EPS_REL
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve A w = lambda B w for symmetric A and symmetric positive definite B (batched over
    leading dimensions). Returns (lambda ascending, W) with W^T B W = I. Raises ``ValueError`` when B
    is not positive definite."""
    if a.shape != b.shape or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"A and B must be square and of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    b = 0.5 * (b + b.transpose(-1, -2))
    chol, info = torch.linalg.cholesky_ex(b)
    if bool((info != 0).any()):
        raise ValueError("B is not positive definite (Cholesky failed); add a ridge to B")
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device).expand_as(a)
    l_inv = torch.linalg.solve_triangular(chol, eye, upper=False)            # L^{-1}
    c = l_inv @ a @ l_inv.transpose(-1, -2)                                  # L^{-1} A L^{-T}
    lam, v = eigh_guarded(c, eps_rel)
    w = l_inv.transpose(-1, -2) @ v                                          # L^{-T} v
    return lam, w
