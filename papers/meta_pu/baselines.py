"""The competitors of meta_pu, all under one protocol: each adapts to the P and U sets of a task and
scores its labelled queries; a score > 0 means "positive". The registry ``METHODS`` holds them all
(the proposed method included); ``run.py`` looks methods up there.

Per task (trained on the target task's P and U only):
- uPU (du Plessis, Niu & Sugiyama, NeurIPS 2014 / ICML 2015): the unbiased PU risk
  pi E_P l(g) - pi E_P l(-g) + E_U l(-g) with the sigmoid loss l(t) = sigma(-t), an MLP g.
- nnPU (Kiryo et al., NeurIPS 2017): pi E_P l(g) + max(0, E_U l(-g) - pi E_P l(-g)); when the negative part
  falls below -beta the step follows -gamma x (negative part) (their Algorithm 1, beta = 0, gamma = 1).
- Elkan & Noto (KDD 2008): a logistic regression g(x) = p(s = 1 | x) of labelled vs unlabelled, c = mean of
  g over positives not used to fit it (out-of-fold: ours, as 10 % of 5 positives is no hold-out set),
  p(y = 1 | x) = g(x) / c, positive iff >= 1/2. It needs no prior.
- uLSIF-PU: the PU density ratio r = p_P / p by uLSIF (Kanamori, Hido & Sugiyama, JMLR 2009) with Gaussian
  kernels centred on P u U, lambda by 5-fold CV of its squared loss, non-negative coefficients; the Bayes
  rule pi r(x) >= 1/2 (the proposed classifier without meta-learning).
- PN oracle (reference): the same MLP trained with the labels of U revealed (pi-weighted sigmoid risk).
Meta-learned on the meta-training tasks (labelled queries), adapted to the target's P and U:
- ProtoNet-PU (ours, in the spirit of Snell et al. 2017): embedding f; positive prototype c_P = mean f(P);
  negative prototype from the mixture identity mean f(U) = pi c_P + (1 - pi) c_N; logit
  ||f(x) - c_N||^2 - ||f(x) - c_P||^2 + log(pi / (1 - pi)); meta-trained by cross-entropy on the queries.
- MAML-nnPU (Finn et al. 2017): an MLP whose initialisation is meta-learned so that SGD steps on the nnPU
  risk of the target's P and U minimise the sigmoid risk of its labelled queries (second order).

Per-task networks of a batch of tasks carry a leading task dimension (one independent net per task).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from common.meta.encoders import mlp
from papers.meta_pu import method as M

# ---------------------------------------------------------------------------------------------
# Functional MLP with optional per-task weights


def init_mlp_params(in_dim: int, hidden: int, n_hidden: int, generator: torch.Generator | None = None,
                    n_tasks: int | None = None, dtype=torch.float64) -> list[Tensor]:
    """PyTorch-default (uniform +-1/sqrt(fan_in)) weights [W1, b1, ..., Wout, bout] of a scalar-output MLP."""
    dims = [in_dim] + [hidden] * n_hidden + [1]
    lead = (n_tasks,) if n_tasks else ()
    params = []
    for i, o in zip(dims[:-1], dims[1:]):
        bound = 1.0 / math.sqrt(i)
        params.append(((torch.rand(lead + (i, o), generator=generator) * 2 - 1) * bound).to(dtype))
        params.append(((torch.rand(lead + (o,), generator=generator) * 2 - 1) * bound).to(dtype))
    return params


def mlp_forward(x: Tensor, params: list[Tensor]) -> Tensor:
    """x (T, M, D) -> (T, M); weights shared (in, out) or per task (T, in, out)."""
    h = x
    n_layers = len(params) // 2
    for li in range(n_layers):
        w, b = params[2 * li], params[2 * li + 1]
        h = h @ w + (b.unsqueeze(-2) if b.dim() == 2 else b)
        if li < n_layers - 1:
            h = torch.relu(h)
    return h.squeeze(-1)


# ---------------------------------------------------------------------------------------------
# PU risks with the sigmoid loss l(t) = sigma(-t); prior (T,), outputs (T,)


def pu_risk_parts(g_pos: Tensor, g_unl: Tensor, prior: Tensor) -> tuple[Tensor, Tensor]:
    """(pi E_P l(g), E_U l(-g) - pi E_P l(-g)): the positive part and the (unbiased) negative part."""
    pos = prior * torch.sigmoid(-g_pos).mean(-1)
    neg = torch.sigmoid(g_unl).mean(-1) - prior * torch.sigmoid(g_pos).mean(-1)
    return pos, neg


def upu_risk(g_pos: Tensor, g_unl: Tensor, prior: Tensor) -> Tensor:
    pos, neg = pu_risk_parts(g_pos, g_unl, prior)
    return pos + neg


def nnpu_risk(g_pos: Tensor, g_unl: Tensor, prior: Tensor) -> Tensor:
    """The non-negative risk estimator (value; differentiable, used in MAML's inner loop)."""
    pos, neg = pu_risk_parts(g_pos, g_unl, prior)
    return pos + neg.clamp_min(0.0)


def nnpu_objective(g_pos: Tensor, g_unl: Tensor, prior: Tensor, beta: float = 0.0, gamma: float = 1.0) -> Tensor:
    """What Kiryo et al.'s Algorithm 1 descends: the full risk, or -gamma x the negative part when it is < -beta."""
    pos, neg = pu_risk_parts(g_pos, g_unl, prior)
    return torch.where(neg < -beta, -gamma * neg, pos + neg)


def pn_risk(g_pos: Tensor, g_unl: Tensor, y_unl: Tensor, prior: Tensor) -> Tensor:
    """Oracle: pi E_{positives} l(g) + (1 - pi) E_{negatives} l(-g), positives = P and the positives of U."""
    g = torch.cat([g_pos, g_unl], -1)
    y = torch.cat([torch.ones_like(g_pos), y_unl.to(g.dtype)], -1)
    pos = (torch.sigmoid(-g) * y).sum(-1) / y.sum(-1)
    neg = (torch.sigmoid(g) * (1 - y)).sum(-1) / (1 - y).sum(-1).clamp_min(1.0)
    return prior * pos + (1 - prior) * neg


def train_per_task(objective: Callable[[list[Tensor]], Tensor], params: list[Tensor], steps: int, lr: float,
                   weight_decay: Tensor | float = 0.0) -> list[Tensor]:
    """Full-batch Adam on each task's own weights (leading task dim); ``objective(params)`` returns one
    value per task; ``weight_decay`` (scalar or one per task) adds wd/2 ||theta_t||^2 to task t's
    objective (= torch Adam's L2 weight decay, per task)."""
    params = [p.detach().clone().requires_grad_(True) for p in params]
    wd = torch.as_tensor(weight_decay, dtype=params[0].dtype)
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        l2 = sum((p ** 2).flatten(1).sum(1) for p in params)
        (objective(params) + 0.5 * wd * l2).sum().backward()  # sum: each task gets its own gradient
        opt.step()
    return [p.detach() for p in params]


def _per_task_net(kind: str):
    """uPU / nnPU / PN oracle; ``hp`` = a tuple of weight decays: one network per (weight decay, task),
    all trained in one batch; scores (len(hp), T, M)."""
    def scores(cfg, model, t: dict, prior: Tensor, hp, seed: int) -> Tensor:
        wds = torch.as_tensor(hp, dtype=t["x_pos"].dtype)
        k, n_t = len(wds), t["x_pos"].shape[0]
        rep = {f: v.repeat((k,) + (1,) * (v.dim() - 1)) for f, v in t.items()}
        prior_rep = prior.repeat(k)
        g = torch.Generator().manual_seed(seed)
        p0 = init_mlp_params(t["x_pos"].shape[-1], cfg.task_hidden, cfg.n_hidden, g, n_t, t["x_pos"].dtype)
        p0 = [p.repeat((k,) + (1,) * (p.dim() - 1)) for p in p0]  # the same initialisation for every candidate

        def objective(p):
            gp, gu = mlp_forward(rep["x_pos"], p), mlp_forward(rep["x_unl"], p)
            if kind == "upu":
                return upu_risk(gp, gu, prior_rep)
            if kind == "nnpu":
                return nnpu_objective(gp, gu, prior_rep)
            return pn_risk(gp, gu, rep["y_unl"], prior_rep)

        with torch.enable_grad():
            params = train_per_task(objective, p0, cfg.nn_steps, cfg.nn_lr, wds.repeat_interleave(n_t))
        return mlp_forward(rep["x_query"], params).reshape(k, n_t, -1)
    return scores


# ---------------------------------------------------------------------------------------------
# Elkan-Noto and kernel uLSIF (numpy, one task at a time)


def logistic_regression_newton(x: Tensor, s: Tensor, mask: Tensor, c_reg: float, iters: int = 25) -> Tensor:
    """L2-regularised logistic regression fitted by Newton's method, batched over leading dims:
    minimises C sum_i mask_i logloss(s_i, w^T x_i + b) + 1/2 ||w||^2 (scikit-learn's objective; the
    intercept b is not penalised). x (..., N, D), s and mask (..., N) -> [w, b] (..., D + 1)."""
    xa = torch.cat([x, torch.ones_like(x[..., :1])], -1)
    d = xa.shape[-1]
    reg = torch.eye(d, dtype=x.dtype)
    reg[-1, -1] = 1e-10
    theta = torch.zeros(xa.shape[:-2] + (d,), dtype=x.dtype)
    for _ in range(iters):
        p = torch.sigmoid((xa * theta.unsqueeze(-2)).sum(-1))
        grad = c_reg * ((mask * (p - s)).unsqueeze(-1) * xa).sum(-2) + reg.diagonal() * theta
        hess = c_reg * (xa * (mask * p * (1 - p)).unsqueeze(-1)).transpose(-1, -2) @ xa + reg
        step = torch.linalg.solve(hess, grad.unsqueeze(-1)).squeeze(-1)
        theta = theta - step
        if float(step.abs().max()) < 1e-10:
            break
    return theta


def elkan_noto_scores(x_pos: Tensor, x_unl: Tensor, x_query: Tensor, c_reg: float, seed: int,
                      folds: int = 5) -> tuple[Tensor, Tensor]:
    """Batched over tasks (T, N, D): (g(x)/c - 1/2 at the queries (T, M), c (T,)). ``g`` is fitted on
    all of P u U; c is the mean over positives of out-of-fold g (k-fold, k = min(folds, n_pos))."""
    x = torch.cat([x_pos, x_unl], -2)
    n_p, n = x_pos.shape[-2], x.shape[-2]
    s = torch.cat([torch.ones(n_p), torch.zeros(n - n_p)]).to(x.dtype).expand(x.shape[:-1])
    k = max(2, min(folds, n_p))
    rng = np.random.default_rng(seed)
    fold = torch.as_tensor(np.r_[rng.permutation(n_p) % k, rng.permutation(n - n_p) % k])
    held = torch.stack([(fold == f) for f in range(k)]).to(x.dtype)       # (k, N)
    theta_k = logistic_regression_newton(x.unsqueeze(0), s.unsqueeze(0), (1 - held).unsqueeze(1), c_reg)
    xa = torch.cat([x, torch.ones_like(x[..., :1])], -1)
    g_oof = (torch.sigmoid((xa.unsqueeze(0) * theta_k.unsqueeze(-2)).sum(-1)) * held.unsqueeze(1)).sum(0)
    c = (g_oof[..., :n_p].mean(-1)).clamp(1e-6, 1.0)
    theta = logistic_regression_newton(x, s, torch.ones_like(s), c_reg)
    qa = torch.cat([x_query, torch.ones_like(x_query[..., :1])], -1)
    g = torch.sigmoid((qa * theta.unsqueeze(-2)).sum(-1))
    return g / c.unsqueeze(-1) - 0.5, c


def gaussian_kernel(x: np.ndarray, centers: np.ndarray, sigma: float) -> np.ndarray:
    d2 = (x ** 2).sum(1)[:, None] + (centers ** 2).sum(1)[None, :] - 2.0 * x @ centers.T
    return np.exp(-np.maximum(d2, 0.0) / (2.0 * sigma ** 2))


def median_distance(x: np.ndarray) -> float:
    d2 = (x ** 2).sum(1)[:, None] + (x ** 2).sum(1)[None, :] - 2.0 * x @ x.T
    d = np.sqrt(np.maximum(d2[np.triu_indices(len(x), 1)], 0.0))
    med = float(np.median(d)) if d.size else 1.0
    return med if med > 0 else 1.0


def _ulsif_solve(kp: np.ndarray, ku: np.ndarray, lam: float) -> np.ndarray:
    big_h = ku.T @ ku / len(ku)
    return np.maximum(np.linalg.solve(big_h + lam * np.eye(len(big_h)), kp.mean(0)), 0.0)


def ulsif_pu_ratio(xp: np.ndarray, xu: np.ndarray, sigma_factor: float, lambdas, seed: int, folds: int = 5,
                   max_centers: int = 100) -> Callable[[np.ndarray], np.ndarray]:
    """Kernel uLSIF estimate of r = p_P / p from P and U; lambda by k-fold CV of the uLSIF loss."""
    rng = np.random.default_rng(seed)
    pool = np.vstack([xp, xu])
    centers = pool[rng.choice(len(pool), min(max_centers, len(pool)), replace=False)]
    sigma = sigma_factor * median_distance(pool)
    kp, ku = gaussian_kernel(xp, centers, sigma), gaussian_kernel(xu, centers, sigma)
    k = max(2, min(folds, len(xp)))
    fp, fu = rng.permutation(len(xp)) % k, rng.permutation(len(xu)) % k
    best = (math.inf, lambdas[0])
    for lam in lambdas:
        score = 0.0
        for f in range(k):
            th = _ulsif_solve(kp[fp != f], ku[fu != f], lam)
            score += 0.5 * np.mean((ku[fu == f] @ th) ** 2) - np.mean(kp[fp == f] @ th)
        best = min(best, (score, lam))
    theta = _ulsif_solve(kp, ku, best[1])
    return lambda x: gaussian_kernel(np.asarray(x, np.float64), centers, sigma) @ theta


def ulsif_prior_estimate(t: dict, cfg, seed: int) -> Tensor:
    """The baselines' prior estimate when the prior is unknown: 1 / max r over P u U (r by kernel uLSIF)."""
    out = []
    for i in range(t["x_pos"].shape[0]):
        xp, xu = t["x_pos"][i].numpy(), t["x_unl"][i].numpy()
        r = ulsif_pu_ratio(xp, xu, 1.0, cfg.kernel_lambdas, seed + i)(np.vstack([xp, xu]))
        out.append(np.clip(1.0 / max(1.0, r.max()), cfg.prior_min, cfg.prior_max))
    return torch.as_tensor(np.array(out), dtype=t["x_pos"].dtype)


def _elkan_noto(cfg, model, t: dict, prior: Tensor, c_reg: float, seed: int) -> Tensor:
    return elkan_noto_scores(t["x_pos"], t["x_unl"], t["x_query"], c_reg, seed)[0]


def _ulsif(cfg, model, t: dict, prior: Tensor, sigma_factor: float, seed: int) -> Tensor:
    out = []
    for i in range(t["x_pos"].shape[0]):
        r = ulsif_pu_ratio(t["x_pos"][i].numpy(), t["x_unl"][i].numpy(), sigma_factor, cfg.kernel_lambdas, seed + i)
        out.append(float(prior[i]) * r(t["x_query"][i].numpy()) - 0.5)
    return torch.as_tensor(np.stack(out))


# ---------------------------------------------------------------------------------------------
# Meta-learned baselines


class ProtoPU(nn.Module):
    """ProtoNet-PU (module docstring)."""

    def __init__(self, in_dim: int, hidden: int, embed_dim: int, n_hidden: int) -> None:
        super().__init__()
        self.f = mlp(in_dim, hidden, embed_dim, n_hidden)

    def scores(self, x_pos: Tensor, x_unl: Tensor, x: Tensor, prior: Tensor) -> Tensor:
        fp, fu, fx = self.f(x_pos), self.f(x_unl), self.f(x)
        c_p = fp.mean(-2)
        c_n = (fu.mean(-2) - prior.unsqueeze(-1) * c_p) / (1 - prior.unsqueeze(-1))
        d_p = ((fx - c_p.unsqueeze(-2)) ** 2).sum(-1)
        d_n = ((fx - c_n.unsqueeze(-2)) ** 2).sum(-1)
        return d_n - d_p + torch.log(prior / (1 - prior)).unsqueeze(-1)


def maml_adapt(meta_params: list[Tensor], x_pos: Tensor, x_unl: Tensor, prior: Tensor, steps: int, lr: float,
               create_graph: bool) -> list[Tensor]:
    """MAML inner loop: SGD on each task's nnPU risk from the shared initialisation."""
    params = [p.unsqueeze(0).expand(x_pos.shape[0], *p.shape) for p in meta_params]
    for _ in range(steps):
        loss = nnpu_risk(mlp_forward(x_pos, params), mlp_forward(x_unl, params), prior).sum()
        grads = torch.autograd.grad(loss, params, create_graph=create_graph)
        params = [p - lr * g for p, g in zip(params, grads)]
    return params


# ---------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Method:
    """``scores(cfg, model, tasks, prior, hp, seed)`` -> (T, M) query scores (> 0: positive), the tasks a dict
    of stacked tensors (x_pos, x_unl, y_unl, x_query, y_query, prior). Per-task methods tune ``hp`` over
    ``grid(cfg)`` on the validation tasks (``batched_grid``: ``hp`` is the whole grid, scores (K, T, M)); meta-learned ones (``init``, ``loss``) tune over checkpoints
    (``hp`` is None). ``needs_prior``: uses pi (the true one, or the estimate when it is unknown)."""

    scores: Callable[..., Tensor]
    grid: Callable | None = None
    init: Callable | None = None
    loss: Callable[..., Tensor] | None = None
    iters: str = "meta_iters"
    key_fields: tuple[str, ...] = ()
    needs_prior: bool = True
    batched_grid: bool = False

    @property
    def meta_learned(self) -> bool:
        return self.init is not None


def _dtype(cfg):
    return getattr(torch, cfg.dtype)


def _proposed_scores(cfg, model: M.MetaPU, t, prior, hp, seed) -> Tensor:
    s, _ = model.scores(t["x_pos"], t["x_unl"], t["x_query"], prior, cfg.prior_min, cfg.prior_max)
    return s


def _proto_scores(cfg, model: ProtoPU, t, prior, hp, seed) -> Tensor:
    return model.scores(t["x_pos"], t["x_unl"], t["x_query"], prior)


def _maml_init(cfg, in_dim, gen):
    return [p.requires_grad_(True) for p in init_mlp_params(in_dim, cfg.hidden, cfg.n_hidden, gen, None, _dtype(cfg))]


def _maml_scores(cfg, model: list[Tensor], t, prior, hp, seed) -> Tensor:
    with torch.enable_grad():
        params = maml_adapt([p.detach().requires_grad_(True) for p in model], t["x_pos"], t["x_unl"], prior,
                            cfg.maml_inner_steps, cfg.maml_inner_lr, create_graph=False)
    return mlp_forward(t["x_query"], [p.detach() for p in params])


def _maml_loss(cfg, model, b) -> Tensor:
    params = maml_adapt(model, b["x_pos"], b["x_unl"], b["prior"], cfg.maml_inner_steps, cfg.maml_inner_lr, True)
    return M.sigmoid_risk(mlp_forward(b["x_query"], params), b["y_query"]).mean()


METHODS: dict[str, Method] = {
    "proposed": Method(_proposed_scores,
                       init=lambda cfg, d, g: M.MetaPU(d, cfg.hidden, cfg.embed_dim, cfg.set_dim, cfg.n_hidden,
                                                       cfg.init_lambda, cfg.risk_scale).to(_dtype(cfg)),
                       loss=lambda cfg, m, b: m.meta_loss(b["x_pos"], b["x_unl"], b["x_query"], b["y_query"],
                                                          b["prior"]),
                       key_fields=("embed_dim", "set_dim", "init_lambda", "risk_scale", "meta_iters")),
    "upu": Method(_per_task_net("upu"), grid=lambda cfg: cfg.nn_weight_decays, batched_grid=True),
    "nnpu": Method(_per_task_net("nnpu"), grid=lambda cfg: cfg.nn_weight_decays, batched_grid=True),
    "elkan_noto": Method(_elkan_noto, grid=lambda cfg: cfg.en_cs, needs_prior=False),
    "ulsif": Method(_ulsif, grid=lambda cfg: cfg.kernel_sigma_factors),
    "protonet": Method(_proto_scores,
                       init=lambda cfg, d, g: ProtoPU(d, cfg.hidden, cfg.embed_dim, cfg.n_hidden).to(_dtype(cfg)),
                       loss=lambda cfg, m, b: F.binary_cross_entropy_with_logits(
                           m.scores(b["x_pos"], b["x_unl"], b["x_query"], b["prior"]), b["y_query"].to(b["x_pos"].dtype)),
                       key_fields=("embed_dim", "meta_iters")),
    "maml": Method(_maml_scores, init=_maml_init, loss=_maml_loss, iters="maml_iters",
                   key_fields=("maml_iters", "maml_inner_steps", "maml_inner_lr")),
    "pn_oracle": Method(_per_task_net("pn"), grid=lambda cfg: cfg.nn_weight_decays, needs_prior=False,
                        batched_grid=True),
}
