"""Baselines of the paper's comparison, all under the same protocol (fit on the two support sets
of a task, evaluate on its queries):

- ``KernelRuLSIF``: RuLSIF (Yamada et al., NeurIPS 2011 / Neural Comput. 2013): Gaussian-kernel
  linear model with centres on S_A, closed-form solution, sigma and lambda chosen by k-fold
  cross-validation of the relative squared loss (as in the authors' RuLSIF code). Checked
  against the ``densratio`` package in the tests.
- uLSIF (Kanamori et al., JMLR 2009): ``KernelRuLSIF`` with alpha = 0 (plain ratio r = p_A/p_B),
  converted to the relative ratio exactly: r_alpha = r / (alpha r + 1 - alpha).
- KLIEP (Sugiyama et al., 2008): the ``densratio`` package's implementation (likelihood CV of
  the bandwidth), converted to the relative ratio the same way.
- Neural DRE trained per task: an MLP r(x) trained on the task's supports only with the RuLSIF
  squared loss (Adam, weight decay).
- Fine-tuning: an MLP pre-trained on all meta-training tasks with the same loss, fine-tuned on
  each target task's supports.
- MAML (Finn et al., 2017): an MLP whose initialisation is meta-learned so that a few SGD steps
  on the supports' squared loss minimise the queries' squared loss (second-order).

Networks of one batch of tasks are trained together as independent per-task weights (a leading
task dimension), which is mathematically the same as training one network per task.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor

from common.meta.closed_form import rulsif_squared_loss

# ---------------------------------------------------------------------------------------------
# Kernel methods


def gaussian_kernel(x: np.ndarray, centers: np.ndarray, sigma: float) -> np.ndarray:
    """exp(-||x - c||^2 / (2 sigma^2)), (N, C)."""
    d2 = (x ** 2).sum(1)[:, None] + (centers ** 2).sum(1)[None, :] - 2.0 * x @ centers.T
    return np.exp(-np.maximum(d2, 0.0) / (2.0 * sigma ** 2))


def median_distance(x: np.ndarray) -> float:
    d2 = (x ** 2).sum(1)[:, None] + (x ** 2).sum(1)[None, :] - 2.0 * x @ x.T
    d = np.sqrt(np.maximum(d2[np.triu_indices(len(x), 1)], 0.0))
    med = float(np.median(d)) if d.size else 1.0
    return med if med > 0 else 1.0


def relative_from_plain(r: np.ndarray, alpha: float) -> np.ndarray:
    """p_A/(alpha p_A + (1-alpha) p_B) from the plain ratio p_A/p_B (exact for r >= 0)."""
    r = np.maximum(r, 0.0)
    return r / (alpha * r + 1.0 - alpha)


class KernelRuLSIF:
    """RuLSIF / uLSIF with Gaussian kernels centred on (at most ``max_centers``) instances of S_A.

    ``sigma_factors`` multiply the median pairwise distance of S_A u S_B; the pair (sigma,
    lambda) with the lowest k-fold CV squared loss is used. Negative coefficients are set to 0
    (as in the reference implementations).
    """

    def __init__(self, alpha: float, sigma_factors=(0.25, 0.5, 1.0, 2.0, 4.0),
                 lambdas=(1e-3, 1e-2, 1e-1, 1.0), n_folds: int = 5, max_centers: int = 100, seed: int = 0,
                 sigmas: tuple | None = None) -> None:
        self.alpha, self.sigma_factors, self.lambdas = alpha, tuple(sigma_factors), tuple(lambdas)
        self.sigmas = sigmas
        self.n_folds, self.max_centers, self.seed = n_folds, max_centers, seed

    @staticmethod
    def _solve(ka: np.ndarray, kb: np.ndarray, alpha: float, lam: float) -> np.ndarray:
        big_h = alpha * ka.T @ ka / len(ka) + (1 - alpha) * kb.T @ kb / len(kb)
        theta = np.linalg.solve(big_h + lam * np.eye(big_h.shape[0]), ka.mean(0))
        return np.maximum(theta, 0.0)

    def _loss(self, ra: np.ndarray, rb: np.ndarray) -> float:
        return float(0.5 * self.alpha * np.mean(ra ** 2) + 0.5 * (1 - self.alpha) * np.mean(rb ** 2) - np.mean(ra))

    def fit(self, xa: np.ndarray, xb: np.ndarray, centers: np.ndarray | None = None) -> "KernelRuLSIF":
        xa, xb = np.asarray(xa, np.float64), np.asarray(xb, np.float64)
        rng = np.random.default_rng(self.seed)
        if centers is None:
            n_c = min(self.max_centers, len(xa))
            centers = xa[rng.choice(len(xa), n_c, replace=False)]
        self.centers = np.asarray(centers, np.float64)
        sigmas = self.sigmas or tuple(f * median_distance(np.vstack([xa, xb])) for f in self.sigma_factors)
        grid = [(s, lam) for s in sigmas for lam in self.lambdas]
        if len(grid) == 1:
            self.sigma, self.lam = grid[0]
        else:
            k = max(2, min(self.n_folds, len(xa), len(xb)))
            fa, fb = rng.permutation(len(xa)) % k, rng.permutation(len(xb)) % k
            best = (math.inf, grid[0])
            for s in sigmas:
                ka, kb = gaussian_kernel(xa, self.centers, s), gaussian_kernel(xb, self.centers, s)
                for lam in self.lambdas:
                    score = 0.0
                    for f in range(k):
                        th = self._solve(ka[fa != f], kb[fb != f], self.alpha, lam)
                        score += self._loss(ka[fa == f] @ th, kb[fb == f] @ th) / k
                    if score < best[0]:
                        best = (score, (s, lam))
            self.sigma, self.lam = best[1]
        self.theta = self._solve(gaussian_kernel(xa, self.centers, self.sigma),
                                 gaussian_kernel(xb, self.centers, self.sigma), self.alpha, self.lam)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return gaussian_kernel(np.asarray(x, np.float64), self.centers, self.sigma) @ self.theta


def kliep_ratio(xa: np.ndarray, xb: np.ndarray, sigma_factors=(0.25, 0.5, 1.0, 2.0, 4.0), seed: int = 0,
                max_centers: int = 100):
    """KLIEP through the densratio package; returns a function x -> plain ratio p_A/p_B."""
    from densratio import densratio

    xa, xb = np.asarray(xa, np.float64), np.asarray(xb, np.float64)
    med = median_distance(np.vstack([xa, xb]))
    state = np.random.get_state()
    np.random.seed(seed)  # densratio draws centres and CV folds from numpy's global generator
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = densratio(xa, xb, method="KLIEP", sigma_range=[f * med for f in sigma_factors],
                            kernel_num=max_centers, fold=min(5, len(xa)), verbose=False)
    finally:
        np.random.set_state(state)
    return lambda x: np.asarray(res.compute_density_ratio(np.asarray(x, np.float64))).ravel()


# ---------------------------------------------------------------------------------------------
# Neural baselines: a functional MLP whose weights may carry a leading task dimension.


def init_mlp_params(in_dim: int, hidden: int, n_hidden: int, generator: torch.Generator | None = None,
                    n_tasks: int | None = None) -> list[Tensor]:
    """PyTorch-default (Kaiming-uniform) initialised weights [W1, b1, ..., Wout, bout]."""
    dims = [in_dim] + [hidden] * n_hidden + [1]
    params = []
    lead = (n_tasks,) if n_tasks else ()
    for i, o in zip(dims[:-1], dims[1:]):
        bound = 1.0 / math.sqrt(i)
        params.append((torch.rand(lead + (i, o), generator=generator) * 2 - 1) * bound)
        params.append((torch.rand(lead + (o,), generator=generator) * 2 - 1) * bound)
    return params


def mlp_forward(x: Tensor, params: list[Tensor]) -> Tensor:
    """x (T, M, D) -> (T, M); weights either shared (in, out) or per task (T, in, out)."""
    h = x
    n_layers = len(params) // 2
    for li in range(n_layers):
        w, b = params[2 * li], params[2 * li + 1]
        h = h @ w + (b.unsqueeze(-2) if b.dim() == 2 else b)
        if li < n_layers - 1:
            h = torch.relu(h)
    return h.squeeze(-1)


def _task_losses(params, sa, sb, alpha):
    return rulsif_squared_loss(mlp_forward(sa, params), mlp_forward(sb, params), alpha)


def train_per_task(params0: list[Tensor], sa: Tensor, sb: Tensor, alpha: float, steps: int, lr: float,
                   weight_decay: float) -> list[Tensor]:
    """Adam on each task's own copy of the weights (``params0`` carry the leading task dim), on the
    supports' squared loss only."""
    params = [p.detach().clone().requires_grad_(True) for p in params0]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        _task_losses(params, sa, sb, alpha).sum().backward()  # sum: each task gets its own gradient
        opt.step()
    return [p.detach() for p in params]


def expand_shared(params: list[Tensor], t: int) -> list[Tensor]:
    return [p.unsqueeze(0).expand(t, *p.shape) for p in params]


def neural_dre_per_task(sa: Tensor, sb: Tensor, alpha: float, hidden: int, n_hidden: int, steps: int, lr: float,
                        weight_decay: float, seed: int) -> list[Tensor]:
    """Neural DRE trained from scratch on each task's supports (independent random inits)."""
    g = torch.Generator().manual_seed(seed)
    params = init_mlp_params(sa.shape[-1], hidden, n_hidden, g, n_tasks=sa.shape[0])
    return train_per_task(params, sa, sb, alpha, steps, lr, weight_decay)


def maml_adapt(meta_params: list[Tensor], sa: Tensor, sb: Tensor, alpha: float, inner_steps: int, inner_lr: float,
               create_graph: bool) -> list[Tensor]:
    """MAML inner loop: SGD steps on each task's support loss from the shared initialisation."""
    params = expand_shared(meta_params, sa.shape[0])
    for _ in range(inner_steps):
        loss = _task_losses(params, sa, sb, alpha).sum()
        grads = torch.autograd.grad(loss, params, create_graph=create_graph)
        params = [p - inner_lr * g for p, g in zip(params, grads)]
    return params


def maml_meta_loss(meta_params, sa, sb, qa, qb, alpha, inner_steps, inner_lr) -> Tensor:
    params = maml_adapt(meta_params, sa, sb, alpha, inner_steps, inner_lr, create_graph=True)
    return _task_losses(params, qa, qb, alpha).mean()


def pretrain_loss(shared_params, sa, sb, qa, qb, alpha) -> Tensor:
    """Fine-tuning baseline's pre-training: one network for all source tasks (no adaptation)."""
    return _task_losses(shared_params, torch.cat([sa, qa], 1), torch.cat([sb, qb], 1), alpha).mean()


def clipped(params: list[Tensor], points: list[Tensor]) -> list[Tensor]:
    with torch.no_grad():
        return [mlp_forward(p, params).clamp_min(0.0) for p in points]
