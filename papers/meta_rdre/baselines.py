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

``METHODS`` maps every method name (the proposed method and its ablation included) to a
:class:`Method`: how it estimates ratios on a batch of test tasks, and, for the meta-learned ones,
how it is built and which loss meta-trains it. ``run.py`` looks methods up there.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from common.meta.closed_form import rulsif_squared_loss
from common.runtime import derive_seed
from papers.meta_rdre import method as M

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
                max_centers: int = 100, n_folds: int = 5):
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
                            kernel_num=max_centers, fold=min(n_folds, len(xa)), verbose=False)
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
    params = [p.to(sa.dtype) for p in init_mlp_params(sa.shape[-1], hidden, n_hidden, g, n_tasks=sa.shape[0])]
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


# ---------------------------------------------------------------------------------------------
# The registry: every method under one protocol (fit on the two supports of each task).

Points = list[Tensor]


@dataclass(frozen=True)
class Method:
    """``estimate(cfg, model, sa, sb, points)`` -> clipped relative-ratio estimates (T, M) at each
    tensor of ``points`` (T, M, D), each task fitted on its supports ``sa``, ``sb`` (T, N, D).
    Meta-learned methods also give ``init(cfg, in_dim, generator)`` -> an ``nn.Module`` or a list
    of weights, ``loss(cfg, model, batch)`` (the meta-training objective on a task batch), the
    config field of their iteration budget and the config fields that determine the trained
    model beyond the shared ones (the cache key)."""

    estimate: Callable[..., list[np.ndarray]]
    init: Callable | None = None
    loss: Callable[..., Tensor] | None = None
    iters: str = "meta_iters"
    key_fields: tuple[str, ...] = ()

    @property
    def meta_learned(self) -> bool:
        return self.init is not None


def _kernel_seed(cfg, t: int) -> int:
    """Centres and CV folds of test task t: a named stream of the run seed."""
    return derive_seed(cfg.seed, "kernel_cv") + t


def _kernel(kind: str):
    def estimate(cfg, model, sa: Tensor, sb: Tensor, points: Points) -> list[np.ndarray]:
        a = cfg.alpha
        out = [np.zeros(p.shape[:2]) for p in points]
        sigma_factors = tuple(f * cfg.kernel_sigma_scale for f in cfg.kernel_sigma_factors)
        for t in range(sa.shape[0]):
            xa, xb = sa[t].numpy(), sb[t].numpy()
            if kind == "kliep":
                f = kliep_ratio(xa, xb, sigma_factors, _kernel_seed(cfg, t), cfg.kernel_centers,
                                cfg.kernel_folds)
                vals = [relative_from_plain(f(p[t].numpy()), a) for p in points]
            else:
                est = KernelRuLSIF(a if kind == "rulsif" else 0.0, sigma_factors, cfg.kernel_lambdas,
                                   cfg.kernel_folds, cfg.kernel_centers, seed=_kernel_seed(cfg, t)).fit(xa, xb)
                vals = [np.maximum(est.predict(p[t].numpy()), 0.0) for p in points]
                if kind == "ulsif":  # plain ratio p_A / p_B -> relative ratio, exactly
                    vals = [relative_from_plain(v, a) for v in vals]
            for o, v in zip(out, vals):
                o[t] = v
        return out
    return estimate


def _proposed_init(encoder: bool):
    def init(cfg, in_dim: int, generator: torch.Generator | None = None) -> M.MetaRDRE:
        return M.MetaRDRE(in_dim, cfg.hidden, cfg.embed_dim, cfg.set_dim, cfg.n_hidden, cfg.alpha, cfg.init_lambda,
                          use_dataset_encoder=encoder).to(getattr(torch, cfg.dtype))
    return init


def _proposed_loss(cfg, model: M.MetaRDRE, b: dict[str, Tensor]) -> Tensor:
    return model.meta_loss(b["support_a"], b["support_b"], b["query_a"], b["query_b"])


def _proposed_estimate(cfg, model: M.MetaRDRE, sa: Tensor, sb: Tensor, points: Points) -> list[np.ndarray]:
    model.eval()
    return [p.numpy() for p in model.estimate(sa, sb, points, lam_scale=cfg.lambda_scale)]


def _mlp_init(cfg, in_dim: int, generator: torch.Generator | None = None) -> list[Tensor]:
    dtype = getattr(torch, cfg.dtype)
    return [p.to(dtype).requires_grad_(True) for p in init_mlp_params(in_dim, cfg.hidden, cfg.n_hidden, generator)]


def _nn_estimate(cfg, model, sa: Tensor, sb: Tensor, points: Points) -> list[np.ndarray]:
    params = neural_dre_per_task(sa, sb, cfg.alpha, cfg.hidden, cfg.n_hidden, cfg.nn_steps, cfg.nn_lr,
                                 cfg.nn_weight_decay, seed=derive_seed(cfg.seed, "nn_init"))
    return [r.numpy() for r in clipped(params, points)]


def _ft_estimate(cfg, model: list[Tensor], sa: Tensor, sb: Tensor, points: Points) -> list[np.ndarray]:
    params = train_per_task(expand_shared(model, sa.shape[0]), sa, sb, cfg.alpha, cfg.ft_steps, cfg.nn_lr,
                            cfg.nn_weight_decay)
    return [r.numpy() for r in clipped(params, points)]


def _maml_estimate(cfg, model: list[Tensor], sa: Tensor, sb: Tensor, points: Points) -> list[np.ndarray]:
    with torch.enable_grad():
        params = maml_adapt([p.detach().requires_grad_(True) for p in model], sa, sb, cfg.alpha,
                            cfg.maml_inner_steps, cfg.maml_inner_lr, create_graph=False)
    return [r.numpy() for r in clipped([p.detach() for p in params], points)]


METHODS: dict[str, Method] = {
    "proposed": Method(_proposed_estimate, _proposed_init(True), _proposed_loss,
                       key_fields=("embed_dim", "set_dim", "init_lambda", "meta_iters")),
    "proposed_noenc": Method(_proposed_estimate, _proposed_init(False), _proposed_loss,
                             key_fields=("embed_dim", "set_dim", "init_lambda", "meta_iters")),
    "rulsif": Method(_kernel("rulsif")),
    "ulsif": Method(_kernel("ulsif")),
    "kliep": Method(_kernel("kliep")),
    "nn": Method(_nn_estimate),
    "ft": Method(_ft_estimate, _mlp_init,
                 lambda cfg, p, b: pretrain_loss(p, b["support_a"], b["support_b"], b["query_a"], b["query_b"],
                                                 cfg.alpha),
                 key_fields=("meta_iters",)),
    "maml": Method(_maml_estimate, _mlp_init,
                   lambda cfg, p, b: maml_meta_loss(p, b["support_a"], b["support_b"], b["query_a"], b["query_b"],
                                                    cfg.alpha, cfg.maml_inner_steps, cfg.maml_inner_lr),
                   iters="maml_iters", key_fields=("maml_iters", "maml_inner_steps", "maml_inner_lr")),
}


def candidates(cfg, name: str) -> list[dict]:
    """The 3 hyperparameter candidates of method ``name`` tried on validation tasks (``cfg.tune``): the
    same budget for every method, one hyperparameter of its adaptation to a task, the configured value in
    the middle. None of them changes meta-training, so every candidate of a meta-learner reuses the one
    meta-trained model (equal meta-training budgets, README "Tuning")."""
    if name in ("proposed", "proposed_noenc"):  # ridge of the closed form, x the meta-learned lambda
        return [{"lambda_scale": cfg.lambda_scale * f} for f in (0.1, 1.0, 10.0)]
    if name in ("rulsif", "ulsif", "kliep"):  # Gaussian widths of the per-task CV grid
        return [{"kernel_sigma_scale": cfg.kernel_sigma_scale * f} for f in (0.5, 1.0, 2.0)]
    if name == "nn":  # Adam learning rate of the per-task network
        return [{"nn_lr": cfg.nn_lr * f} for f in (0.3, 1.0, 3.0)]
    if name == "ft":  # fine-tuning steps on the target supports
        return [{"ft_steps": max(1, round(cfg.ft_steps * f))} for f in (0.2, 1.0, 3.0)]
    if name == "maml":  # inner SGD steps at test time
        steps = cfg.maml_test_steps or cfg.maml_inner_steps
        return [{"maml_test_steps": steps * f} for f in (1, 2, 4)]
    raise KeyError(name)


def meta_train_state(name: str, cfg, in_dim: int, next_batch: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
    """Meta-train method ``name`` (initialised from the run seed's stream ``init/<name>``) and return its
    weights as a state dict."""
    spec = METHODS[name]
    seed = derive_seed(cfg.seed, f"init/{name}")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = spec.init(cfg, in_dim, gen)
    params = list(model.parameters()) if isinstance(model, nn.Module) else model
    M.meta_train(params, lambda b: spec.loss(cfg, model, b), next_batch, getattr(cfg, spec.iters), cfg.lr, name)
    if isinstance(model, nn.Module):
        return model.state_dict()
    return {f"p{i}": p.detach() for i, p in enumerate(model)}


def from_state(name: str, cfg, in_dim: int, state: dict[str, Tensor]):
    """The meta-trained model of ``name`` rebuilt from :func:`meta_train_state`'s state dict."""
    model = METHODS[name].init(cfg, in_dim, None)
    if isinstance(model, nn.Module):
        model.load_state_dict(state)
        return model
    return [state[f"p{i}"] for i in range(len(state))]
