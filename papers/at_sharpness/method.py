"""Adversarial training sharpens the weight loss landscape (Yamada et al., 2021): the closed forms.

Linear logistic regression, parameters theta = (w, b) with w in R^d and an unperturbed bias b,
labels y in {-1, +1}, perturbations ||delta||_2 <= eps on the input x (not on the bias):

    z_i(theta)  = -y_i (w . x_i + b) + eps ||w||                                      (Eq. 1)
    L_adv(theta) = (1/n) sum_i softplus(z_i)   = max_{||delta_i|| <= eps} mean logistic loss
    delta_i*    = -eps y_i w / ||w||          (the worst case: magnitude eps, direction -y u)

    gradient    = (1/n) sum_i s_i g_i,  s_i = sigmoid(z_i),  g_i = (-y_i x_i + eps u, -y_i),  u = w/||w||
    Hessian     = H_data + H_dir                                                      (Eq. 2)
    H_data      = (1/n) sum_i s_i (1 - s_i) g_i g_i^T          (curvature of softplus along g_i)
    H_dir       = (eps / ||w||) ((1/n) sum_i s_i) [[I - u u^T, 0], [0, 0]]
                                                  (the derivative of the perturbation's direction u)

Reconstructed (ours, the paper's derivation could not be read): the split of Eq. 2 into the
data-curvature term and the direction term is our reading of the paper's "decomposition of the
perturbation into magnitude and direction". H_dir is zero at eps = 0 and is the only term that
does not vanish as the margins grow; ``hessian_decomposition`` reports each term's share of the
top eigenvalue (Rayleigh quotients on the top eigenvector).

The objective actually minimised adds (l2 / 2) ||w||^2 (same l2 for every eps): on separable data
the unregularised optimum is at infinity. The reported Hessians are those of L_adv alone, at the
optimum of the regularised objective. For eps at or beyond the *collapse radius*
||mu_+ - mu_-|| / 2 (``collapse_radius``) the optimum is w = 0, where Eq. 1 is not
differentiable; eps is therefore given as a fraction of that radius.

The deep case (a CNN or ResNet-18 with softmax) has no closed form: PGD with L2 steps (``pgd_l2``)
solves the inner maximisation, and the top Hessian eigenvalue comes from power iteration on
Hessian-vector products (``torch.func`` forward-over-reverse, ``top_hessian_eigenvalue``);
``filter_normalized_sharpness`` is the loss increase along random filter-normalised directions
(Li et al., 2018), the landscape measure of the work the paper answers (Wu et al., 2020).
Pure functions of tensors: no file I/O, no config objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

# --------------------------------------------------------------------------------------
# Linear logistic regression: closed forms.


def split(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return theta[:-1], theta[-1]


def smoothed_norm(w: torch.Tensor, mu: float = 0.0) -> torch.Tensor:
    """sqrt(||w||^2 + mu^2): ||w|| at mu = 0 (the paper's loss); mu > 0 only inside ``fit_newton``."""
    return torch.sqrt(w.pow(2).sum() + mu * mu) if mu > 0 else torch.linalg.vector_norm(w)


def margins(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float, mu: float = 0.0) -> torch.Tensor:
    """z_i of Eq. 1 (the worst-case negative margin)."""
    w, b = split(theta)
    return -y * (x @ w + b) + eps * smoothed_norm(w, mu)


def adversarial_loss(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float,
                     mu: float = 0.0) -> torch.Tensor:
    """L_adv of Eq. 1, the closed-form inner maximum; eps = 0 is the clean logistic loss."""
    return F.softplus(margins(theta, x, y, eps, mu)).mean()


def per_example_loss(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Clean logistic loss per example (what PGD maximises over x)."""
    w, b = split(theta)
    return F.softplus(-y * (x @ w + b))


def worst_case_perturbation(theta: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """delta_i* = -eps y_i w/||w|| (one row per example)."""
    w, _ = split(theta)
    return -eps * y[:, None] * (w / torch.linalg.vector_norm(w))[None, :]


def objective(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float, l2: float,
              mu: float = 0.0) -> torch.Tensor:
    w, _ = split(theta)
    return adversarial_loss(theta, x, y, eps, mu) + 0.5 * l2 * w.pow(2).sum()


def _direction(theta: torch.Tensor, eps: float, mu: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, N) with N = smoothed_norm(w, mu) and u = w / N (the unit direction at mu = 0)."""
    w, _ = split(theta)
    norm = smoothed_norm(w, mu)
    if eps > 0 and norm == 0:
        raise ValueError("w = 0: the adversarial loss is not differentiable there (eps >= the collapse radius?)")
    return (w / norm if norm > 0 else torch.zeros_like(w)), norm


def adversarial_gradient(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float,
                         mu: float = 0.0) -> torch.Tensor:
    """(1/n) sum_i s_i g_i (Eq. 2's first derivative)."""
    u, _ = _direction(theta, eps, mu)
    s = torch.sigmoid(margins(theta, x, y, eps, mu))
    gw = (s[:, None] * (-y[:, None] * x)).mean(0) + eps * s.mean() * u
    gb = (s * -y).mean()
    return torch.cat([gw, gb[None]])


def hessian_terms(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float,
                  mu: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(H_data, H_dir) of Eq. 2; their sum is the exact Hessian of L_adv. (With mu > 0 the same
    formulas, u = w / N and N = sqrt(||w||^2 + mu^2), give the Hessian of the smoothed loss.)"""
    u, norm = _direction(theta, eps, mu)
    n, d = x.shape
    s = torch.sigmoid(margins(theta, x, y, eps, mu))
    g = torch.cat([-y[:, None] * x + eps * u[None, :], -y[:, None]], dim=1)
    h_data = (g * (s * (1 - s))[:, None]).T @ g / n
    h_dir = torch.zeros(d + 1, d + 1, dtype=x.dtype)
    if eps > 0:
        h_dir[:d, :d] = (eps / norm) * s.mean() * (torch.eye(d, dtype=x.dtype) - torch.outer(u, u))
    return h_data, h_dir


def adversarial_hessian(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float,
                        mu: float = 0.0) -> torch.Tensor:
    h_data, h_dir = hessian_terms(theta, x, y, eps, mu)
    return h_data + h_dir


def collapse_radius(x: torch.Tensor, y: torch.Tensor) -> float:
    """eps beyond which the adversarial optimum (any l2 >= 0) is w = 0.

    At w = 0 the best bias gives s_i = p_{-y_i}, so the directional derivative of L_adv along v is
    -p_+ p_- (mu_+ - mu_-) . v + eps (2 p_+ p_-) ||v||: w = 0 is optimal iff eps >= ||mu_+ - mu_-|| / 2
    (half the distance between the class means, whatever the class balance).
    """
    pos = y > 0
    if pos.all() or not pos.any():
        raise ValueError("both classes are needed")
    return float(0.5 * torch.linalg.vector_norm(x[pos].mean(0) - x[~pos].mean(0)))


@dataclass
class NewtonResult:
    theta: torch.Tensor
    grad_norm: float
    iterations: int
    converged: bool


def _newton(x, y, eps, l2, mu, tol, max_iter, theta) -> NewtonResult:
    d = x.shape[1]
    reg = torch.diag(torch.cat([torch.full((d,), float(l2), dtype=x.dtype), torch.zeros(1, dtype=x.dtype)]))
    f = float(objective(theta, x, y, eps, l2, mu))
    for it in range(max_iter + 1):
        w, _ = split(theta)
        grad = adversarial_gradient(theta, x, y, eps, mu) + torch.cat([l2 * w, torch.zeros(1, dtype=x.dtype)])
        gnorm = float(torch.linalg.vector_norm(grad))
        if gnorm <= tol or it == max_iter:
            return NewtonResult(theta, gnorm, it, gnorm <= tol)
        step = torch.linalg.solve(adversarial_hessian(theta, x, y, eps, mu) + reg, grad)
        t, decrease = 1.0, float(grad @ step)
        while True:  # Armijo backtracking
            cand = theta - t * step
            fc = float(objective(cand, x, y, eps, l2, mu))
            if fc <= f - 1e-4 * t * decrease or t < 1e-12:
                break
            t *= 0.5
        if t < 1e-12:  # no decrease possible at float64 resolution
            return NewtonResult(theta, gnorm, it, gnorm <= tol)
        theta, f = cand, fc
    raise AssertionError("unreachable")


def fit_newton(x: torch.Tensor, y: torch.Tensor, eps: float, l2: float, tol: float = 1e-9, max_iter: int = 100,
               theta0: torch.Tensor | None = None) -> NewtonResult:
    """Minimise objective() (strictly convex for l2 > 0) by damped Newton steps with the exact Hessian
    (Eq. 2 + l2 on w) and Armijo backtracking; stop when ||gradient||_2 <= tol.

    Plain Newton can stall at the kink w = 0 of Eq. 1 (the radial step shrinks ||w|| while the
    curvature eps/||w|| of the direction term freezes the rotation of w), so for eps > 0 it follows
    a homotopy: ||w|| smoothed to sqrt(||w||^2 + mu^2) with mu = m, m/10, ..., m/10^4 (m = ||w|| of
    the clean optimum; each stage warm-started, to ||gradient|| <= 1e-6), then mu = 0, the exact
    loss, to ``tol``. The returned iteration count sums the stages."""
    d = x.shape[1]
    theta = torch.zeros(d + 1, dtype=x.dtype) if theta0 is None else theta0.clone()
    if eps == 0:
        return _newton(x, y, 0.0, l2, 0.0, tol, max_iter, theta)
    if theta0 is None:
        theta = _newton(x, y, 0.0, l2, 0.0, 1e-6, max_iter, theta).theta
    iters = 0
    scale = max(float(torch.linalg.vector_norm(split(theta)[0])), 1e-6)
    for mu in [scale * 10.0 ** -k for k in range(5)] + [0.0]:
        res = _newton(x, y, eps, l2, mu, tol if mu == 0 else max(tol, 1e-6), max_iter, theta)
        theta, iters = res.theta, iters + res.iterations
    return NewtonResult(theta, res.grad_norm, iters, res.converged)


def hessian_decomposition(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float, top_k: int = 10) -> dict:
    """Spectrum of Eq. 2 and each term's contribution to its top eigenvalue.

    ``top`` = lambda_max(H) = v^T H_data v + v^T H_dir v with v the top eigenvector
    (``data_share`` / ``dir_share``); ``data_top`` = lambda_max(H_data) alone; ``dir_scale`` =
    eps mean(s) / ||w||, the only nonzero eigenvalue of H_dir."""
    h_data, h_dir = hessian_terms(theta, x, y, eps)
    evals, evecs = torch.linalg.eigh(h_data + h_dir)
    v = evecs[:, -1]
    w, _ = split(theta)
    s = torch.sigmoid(margins(theta, x, y, eps))
    return {"top": float(evals[-1]), "eigs": evals.flip(0)[:top_k].tolist(), "trace": float(evals.sum()),
            "min": float(evals[0]), "data_share": float(v @ h_data @ v), "dir_share": float(v @ h_dir @ v),
            "data_top": float(torch.linalg.eigvalsh(h_data)[-1]),
            "dir_scale": float(eps * s.mean() / torch.linalg.vector_norm(w)) if eps > 0 else 0.0,
            "mean_s": float(s.mean()), "w_norm": float(torch.linalg.vector_norm(w))}


# --------------------------------------------------------------------------------------
# The deep case: PGD, Hessian-vector products, power iteration, filter-normalised sharpness.


def _batch_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.dim() - 1)))


def pgd_l2(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float, steps: int,
           step_size: float | None = None, clip: tuple[float, float] | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient ascent on ``loss_fn(x_adv)`` (per-example losses) over the L2 ball of
    radius eps around each x: normalised-gradient steps of ``step_size`` (default 2.5 eps / steps,
    Madry et al.), projection onto the ball (and onto ``clip`` box when given). Starts at x, or at
    a uniform random point of the ball when ``generator`` is given. Returns x + delta, detached."""
    if eps == 0 or steps == 0:
        return x.detach()
    alpha = 2.5 * eps / steps if step_size is None else step_size
    delta = torch.zeros_like(x)
    if generator is not None:
        r = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        radius = torch.rand(len(x), generator=generator, dtype=x.dtype).to(x.device) ** (1.0 / x[0].numel())
        delta = eps * r / _batch_norm(r) * radius.view(-1, *([1] * (x.dim() - 1)))
    for _ in range(steps):
        delta.requires_grad_(True)
        xa = x + delta if clip is None else (x + delta).clamp(*clip)
        (grad,) = torch.autograd.grad(loss_fn(xa).sum(), delta)
        with torch.no_grad():
            delta = delta + alpha * grad / _batch_norm(grad)
            delta = delta * (eps / _batch_norm(delta)).clamp(max=1.0)
            if clip is not None:
                delta = (x + delta).clamp(*clip) - x
    return (x + delta).detach()


def hvp_fn(loss_of_params: Callable[[dict], torch.Tensor], params: dict) -> Callable[[dict], dict]:
    """v -> H v for the Hessian of ``loss_of_params`` at ``params`` (forward-over-reverse)."""
    from torch.func import grad, jvp

    g = grad(loss_of_params)

    def hvp(v: dict) -> dict:
        return jvp(g, (params,), (v,))[1]

    return hvp


def _dot(a: dict, b: dict) -> torch.Tensor:
    return sum((a[k] * b[k]).sum() for k in a)


def top_hessian_eigenvalue(hvp: Callable[[dict], dict], like: dict, iters: int = 50, rtol: float = 1e-4,
                           generator: torch.Generator | None = None) -> tuple[float, int, float]:
    """Power iteration on ``hvp``: (eigenvalue of largest magnitude, iterations, last relative change).

    Stops when the Rayleigh quotient changes by less than ``rtol`` (relative) between iterations."""
    v = {k: torch.randn(t.shape, generator=generator, dtype=t.dtype).to(t.device) for k, t in like.items()}
    norm = torch.sqrt(_dot(v, v))
    v = {k: t / norm for k, t in v.items()}
    lam, change = float("nan"), float("inf")
    for it in range(1, iters + 1):
        hv = hvp(v)
        new = float(_dot(v, hv))
        norm = torch.sqrt(_dot(hv, hv))
        if norm == 0:
            return 0.0, it, 0.0
        v = {k: t / norm for k, t in hv.items()}
        change = abs(new - lam) / max(abs(new), 1e-12) if lam == lam else float("inf")
        lam = new
        if change < rtol:
            break
    return lam, it, change


def filter_normalized_direction(params: dict, generator: torch.Generator | None = None) -> dict:
    """A Gaussian direction with each filter (row of a weight tensor) rescaled to the norm of the same
    filter of ``params``; biases and 1-d parameters (BatchNorm) get zero (Li et al., 2018)."""
    out = {}
    for k, p in params.items():
        if p.dim() <= 1:
            out[k] = torch.zeros_like(p)
            continue
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
        out[k] = d / _batch_norm(d) * _batch_norm(p)
    return out


def filter_normalized_sharpness(loss_of_params: Callable[[dict], torch.Tensor], params: dict, alpha: float,
                                directions: int, generator: torch.Generator | None = None) -> float:
    """Mean over random filter-normalised directions d of L(theta + alpha d) - L(theta)."""
    with torch.no_grad():
        base = float(loss_of_params(params))
        rises = []
        for _ in range(directions):
            d = filter_normalized_direction(params, generator)
            rises.append(float(loss_of_params({k: params[k] + alpha * d[k] for k in params})) - base)
    return sum(rises) / len(rises)
