"""The exactly solvable categorical setting (ours, as the issue asks): one prompt, K responses.

World (seed stream "world"): reference logits ~ N(0, ref_scale^2), pi_ref = softmax; a true
preference probability q(y) = sigmoid(pref_scale * u_y), u_y ~ N(0, 1) (no Bradley-Terry model).
Data (stream "sample"): n responses y ~ pi_ref, each labelled preferred with probability q(y), so
p+ = pi_ref q / alpha, p- = pi_ref (1 - q) / (1 - alpha), alpha = sum_y pi_ref q, and the true
preferred distribution is p+. DPO gets the same n responses as n/2 pairs (the preferred one wins
when the labels differ, a fair coin decides otherwise). The tabular policy pi_theta = softmax(theta),
theta = reference logits at the start, is trained by full-batch L-BFGS on the count-weighted loss; the
same fit on the population weights (n = infinity) gives each method's own limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from papers.rdro import baselines as B


@dataclass
class World:
    log_ref: torch.Tensor    # log pi_ref, (K,)
    q: torch.Tensor          # P(preferred | y), (K,)

    @property
    def alpha(self) -> float:
        return float((self.log_ref.exp() * self.q).sum())

    @property
    def p_pos(self) -> torch.Tensor:
        return self.log_ref.exp() * self.q / self.alpha


def make_world(k: int, ref_scale: float, pref_scale: float, rng: np.random.Generator) -> World:
    logits = torch.as_tensor(rng.normal(0.0, ref_scale, k), dtype=torch.float64)
    q = torch.sigmoid(pref_scale * torch.as_tensor(rng.normal(0.0, 1.0, k), dtype=torch.float64))
    return World(torch.log_softmax(logits, 0), q)


def sample_counts(world: World, n: int, rng: np.random.Generator):
    """Unpaired counts (c+, c-) of n labelled draws, and the DPO pair counts (winner, loser) of n/2 pairs."""
    p = world.log_ref.exp().numpy()
    q = world.q.numpy()
    y = rng.choice(len(p), size=n, p=p / p.sum())
    lab = rng.random(n) < q[y]
    k = len(p)
    cpos = np.bincount(y[lab], minlength=k).astype(float)
    cneg = np.bincount(y[~lab], minlength=k).astype(float)
    m = n // 2
    y1, y2, l1, l2 = y[:m], y[m:2 * m], lab[:m], lab[m:2 * m]
    first_wins = np.where(l1 != l2, l1, rng.random(m) < 0.5)
    w = np.where(first_wins, y1, y2)
    los = np.where(first_wins, y2, y1)
    return torch.as_tensor(cpos), torch.as_tensor(cneg), torch.as_tensor(w), torch.as_tensor(los)


def population_counts(world: World):
    p = world.log_ref.exp()
    return p * world.q, p * (1 - world.q)


def _loss(method: str, theta: torch.Tensor, world: World, cpos, cneg, pairs, alpha: float, beta: float):
    logp = torch.log_softmax(theta, 0)
    r = logp - world.log_ref
    if method == "dpo":
        if pairs is None:   # population: all (w, l) pairs weighted by P(w beats l)
            p, q = world.log_ref.exp(), world.q
            win = q[:, None] * (1 - q[None, :]) + 0.5 * (q[:, None] * q[None, :] + (1 - q[:, None]) * (1 - q[None, :]))
            wgt = p[:, None] * p[None, :] * win
            return -(wgt * torch.nn.functional.logsigmoid(beta * (r[:, None] - r[None, :]))).sum() / wgt.sum()
        w, los = pairs
        return B.dpo_loss(r[w], r[los], beta)
    kl = (logp.exp() * r).sum()
    return B.unpaired_loss(method, r, r, alpha=alpha, beta=beta, kl=kl, chosen_weight=cpos, rejected_weight=cneg)


def fit(method: str, world: World, cpos, cneg, pairs, alpha: float, beta: float, steps: int, lr: float):
    """Full-batch L-BFGS (strong Wolfe) from the reference logits, at most ``steps`` iterations, ``lr`` its
    initial step; returns (final logits, trace of every loss evaluation). Ours: L-BFGS rather than Adam,
    whose per-coordinate normalisation moves responses with vanishing gradients (zero counts) as fast as
    the others and makes their ratios overshoot, an artefact of the optimiser, not of the objective."""
    theta = world.log_ref.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=lr, max_iter=steps, max_eval=2 * steps, tolerance_grad=1e-10,
                            tolerance_change=0.0, history_size=50, line_search_fn="strong_wolfe")
    trace = {"loss": [], "grad_norm": [], "max_ratio": [], "kl": []}

    def closure():
        opt.zero_grad()
        loss = _loss(method, theta, world, cpos, cneg, pairs, alpha, beta)
        loss.backward()
        with torch.no_grad():
            logp = torch.log_softmax(theta, 0)
            trace["loss"].append(float(loss))
            trace["grad_norm"].append(float(theta.grad.norm()))
            trace["max_ratio"].append(float((logp - world.log_ref).max().exp()))
            trace["kl"].append(float((logp.exp() * (logp - world.log_ref)).sum()))
        return loss

    opt.step(closure)
    theta = theta.detach()
    with torch.no_grad():   # the trace ends at the returned point
        logp = torch.log_softmax(theta, 0)
        trace["max_ratio"].append(float((logp - world.log_ref).max().exp()))
        trace["kl"].append(float((logp.exp() * (logp - world.log_ref)).sum()))
    return theta, trace


def tv(logp_a: torch.Tensor, p_b: torch.Tensor) -> float:
    return 0.5 * float((logp_a.exp() - p_b).abs().sum())


def summarise(theta: torch.Tensor, limit: torch.Tensor | None, world: World, trace: dict) -> dict[str, float]:
    logp = torch.log_softmax(theta, 0)
    out = {
        "tv_to_preferred": tv(logp, world.p_pos),
        "final_max_ratio": trace["max_ratio"][-1],
        "peak_max_ratio": max(trace["max_ratio"]),
        "peak_grad_norm": max(trace["grad_norm"]),
        "final_grad_norm": trace["grad_norm"][-1],
        "final_kl": trace["kl"][-1],
        "final_loss": trace["loss"][-1],
        "nonfinite": float(not all(math.isfinite(v) for v in trace["loss"])),
    }
    if limit is not None:
        out["tv_to_limit"] = tv(logp, torch.softmax(limit, 0))
    return out
