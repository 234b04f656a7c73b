"""Ito, Yamada, Chijiwa, Kumagai et al. (ICLR 2026): linear mode connectivity by width, without
permutations, once the merged model's softmax temperature is calibrated; LEWC explains why.

Implemented here (the paper's text past its introduction could not be read: the definitions below
follow the brief's third-party notes, and the rest is marked "ours"):

- **Softmax temperature calibration**: the inverse temperature ``beta > 0`` of a model's logits
  that minimises the NLL on held-out data, :func:`fit_inverse_temperature` (a 1-D problem, convex
  in ``beta``; solved over ``log beta`` with a bounded Brent search in float64, and never worse than
  ``beta = 1`` on the data it was fitted on).
- **Barriers with and without calibration** along the linear path ``theta(t) = (1 - t) theta_a +
  t theta_b``: :func:`path_barriers` (at ``t = 1/2`` and the maximum over ``t``; ours: every point
  of the path, endpoints included, gets its own fitted temperature).
- **LEWC** (layerwise exponentially weighted connectivity): for every layer ``l`` (1-based),
  ``f_l(x; lam theta_a + (1 - lam) theta_b) = lam^l f_l(x; theta_a) + (1 - lam)^l f_l(x; theta_b)``;
  :func:`lewc_prediction`, :func:`lewc_relative_errors` (ours: the error is
  ``||f_l(merged) - prediction||_F / ||f_l(merged)||_F`` over the evaluation inputs).
- **The sufficient conditions of Thm 5.3** (bias-free ReLU nets): weak additivity of ReLU,
  ``relu(u + v) = relu(u) + relu(v)`` for ``u = lam^l h_l^a``, ``v = (1 - lam)^l h_l^b``
  (:func:`additivity_errors`), and reciprocal orthogonality, ``W_l^b z_{l-1}^a = 0`` and
  ``W_l^a z_{l-1}^b = 0`` (:func:`cross_term_ratios`, ours: cross terms relative to the direct
  terms). Under both, LEWC holds exactly by induction over layers.
- **REPAIR** (Jordan et al., ICLR 2023, "REnormalizing Permuted Activations for Interpolation
  Repair"), a control: at path point ``t`` every hidden unit's pre-activation of the merged model
  gets the affine correction that gives it the mean and standard deviation
  ``(1 - t) mu_a + t mu_b`` and ``(1 - t) sigma_a + t sigma_b`` of the endpoints, measured on
  training data, layer by layer (the statistics of layer ``l`` after correcting layers ``< l``);
  the correction is folded into the layer's weight and bias (:func:`repair_mlp`). The logits are
  not corrected (as in REPAIR, which resets the hidden normalisation statistics only).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

from common.lmc.interpolation import barrier
from papers.lmc_width.models import mlp_layers

BETA_BOUNDS = (1e-3, 1e3)


# ------------------------------------------------------------------------------------------
# Temperature calibration.


def nll(logits: torch.Tensor, y: torch.Tensor, beta: float = 1.0) -> float:
    """Mean cross-entropy of ``softmax(beta * logits)`` (float64)."""
    return float(F.cross_entropy(beta * logits.double(), y))


def fit_inverse_temperature(logits: torch.Tensor, y: torch.Tensor, bounds: tuple[float, float] = BETA_BOUNDS,
                            xatol: float = 1e-7) -> float:
    """``argmin_beta NLL(softmax(beta * logits), y)`` on held-out data, within ``bounds``.

    The NLL is convex in ``beta`` (log-sum-exp of a linear function minus a linear one), hence
    unimodal in ``log beta``; a bounded Brent search finds it. ``beta = 1`` is returned when it
    is at least as good, so calibration never raises the NLL on the data it was fitted on.
    """
    if logits.ndim != 2 or len(logits) != len(y) or len(y) == 0:
        raise ValueError(f"logits must be (N, C) with N = len(y) > 0, got {tuple(logits.shape)} and {len(y)} labels")
    z = logits.detach().double()

    def objective(log_beta: float) -> float:
        return nll(z, y, math.exp(log_beta))

    res = minimize_scalar(objective, bounds=(math.log(bounds[0]), math.log(bounds[1])), method="bounded",
                          options={"xatol": xatol})
    beta = math.exp(float(res.x))
    return beta if objective(float(res.x)) <= objective(0.0) else 1.0


# ------------------------------------------------------------------------------------------
# Barriers along the path, with and without calibration.


def path_barriers(logits_at: Callable[[float], tuple[torch.Tensor, torch.Tensor]], ts: Sequence[float],
                  y_val: torch.Tensor, y_test: torch.Tensor) -> dict:
    """Loss (raw and calibrated) and accuracy along the path, and their barriers.

    ``logits_at(t) -> (held-out logits, test logits)`` of ``theta(t)``; ``ts`` starts at 0, ends
    at 1 and contains 1/2. At every ``t`` the inverse temperature is fitted on the held-out logits
    and applied to the test logits. Returns the curves (``loss``, ``loss_cal``, ``acc_pct``,
    ``beta``) and the barriers on the test set: ``mid_*`` at ``t = 1/2`` (value minus the mean of
    the endpoints; for accuracy, the mean of the endpoints minus the value) and ``max_*`` the
    largest gap to the straight line between the endpoints (``common.lmc.interpolation.barrier``).
    """
    ts = [float(t) for t in ts]
    if ts[0] != 0.0 or ts[-1] != 1.0 or 0.5 not in ts:
        raise ValueError(f"the path must run from t = 0 to t = 1 through t = 1/2, got {ts}")
    curve: dict[str, list[float]] = {"lam": ts, "loss": [], "loss_cal": [], "acc_pct": [], "beta": []}
    for t in ts:
        val, test = logits_at(t)
        beta = fit_inverse_temperature(val, y_val)
        curve["loss"].append(nll(test, y_test))
        curve["loss_cal"].append(nll(test, y_test, beta))
        curve["acc_pct"].append(100.0 * float((test.argmax(1) == y_test).double().mean()))
        curve["beta"].append(beta)
    mid = ts.index(0.5)
    out = dict(curve=curve)
    for name in ("loss", "loss_cal"):
        v = curve[name]
        out[f"mid_{name}"] = v[mid] - 0.5 * (v[0] + v[-1])
        out[f"max_{name}"] = barrier({"lam": ts, "loss": v, "acc_pct": curve["acc_pct"]})[0]
    acc = curve["acc_pct"]
    out["mid_acc_pct"] = 0.5 * (acc[0] + acc[-1]) - acc[mid]
    out["max_acc_pct"] = barrier(curve)[1]
    return out


# ------------------------------------------------------------------------------------------
# LEWC and its sufficient conditions.


def merge(params_a: dict, params_b: dict, lam: float) -> dict:
    """``lam theta_a + (1 - lam) theta_b`` (the brief's convention for LEWC)."""
    return {k: lam * params_a[k] + (1 - lam) * params_b[k] for k in params_a}


def lewc_prediction(out_a: Sequence[torch.Tensor], out_b: Sequence[torch.Tensor], lam: float) -> list[torch.Tensor]:
    """LEWC's prediction of every layer's output of the merged model: ``lam^l f_l^a + (1 - lam)^l f_l^b``,
    ``l = 1 .. L`` (``out_a[l - 1]`` is the output of layer ``l``)."""
    return [lam ** (i + 1) * fa + (1 - lam) ** (i + 1) * fb for i, (fa, fb) in enumerate(zip(out_a, out_b))]


def _rel(num: torch.Tensor, den: torch.Tensor) -> float:
    d = float(torch.linalg.vector_norm(den.double()))
    return float(torch.linalg.vector_norm(num.double())) / d if d > 0 else float("nan")


def lewc_relative_errors(out_merged: Sequence[torch.Tensor], out_a: Sequence[torch.Tensor],
                         out_b: Sequence[torch.Tensor], lam: float) -> list[float]:
    """Per layer, ``||f_l(merged) - (lam^l f_l^a + (1 - lam)^l f_l^b)|| / ||f_l(merged)||``."""
    return [_rel(m - p, m) for m, p in zip(out_merged, lewc_prediction(out_a, out_b, lam))]


def additivity_errors(pre_a: Sequence[torch.Tensor], pre_b: Sequence[torch.Tensor], lam: float) -> list[float]:
    """Weak additivity of ReLU at every hidden layer l: ``||relu(u + v) - relu(u) - relu(v)|| /
    ||relu(u) + relu(v)||`` with ``u = lam^l h_l^a``, ``v = (1 - lam)^l h_l^b`` (pre-activations of the
    two original models). Zero when, unit by unit, ``u`` and ``v`` never have opposite signs."""
    errs = []
    for i, (ha, hb) in enumerate(zip(pre_a, pre_b)):
        u, v = lam ** (i + 1) * ha, (1 - lam) ** (i + 1) * hb
        errs.append(_rel(F.relu(u + v) - F.relu(u) - F.relu(v), F.relu(u) + F.relu(v)))
    return errs


def cross_term_ratios(weights_a: Sequence[torch.Tensor], weights_b: Sequence[torch.Tensor],
                      z_a: Sequence[torch.Tensor], z_b: Sequence[torch.Tensor]) -> list[float]:
    """Reciprocal orthogonality at layers l = 2 .. L: ``(||W_l^b z_{l-1}^a|| + ||W_l^a z_{l-1}^b||) /
    (||W_l^a z_{l-1}^a|| + ||W_l^b z_{l-1}^b||)``; ``weights_*[l - 1]`` is ``W_l`` (out x in) and
    ``z_*[l - 1]`` the output of layer l (rows = inputs). Zero when the condition holds exactly."""
    ratios = []
    for i in range(1, len(weights_a)):
        wa, wb, za, zb = weights_a[i].double(), weights_b[i].double(), z_a[i - 1].double(), z_b[i - 1].double()
        cross = torch.linalg.vector_norm(za @ wb.T) + torch.linalg.vector_norm(zb @ wa.T)
        direct = torch.linalg.vector_norm(za @ wa.T) + torch.linalg.vector_norm(zb @ wb.T)
        ratios.append(float(cross / direct) if float(direct) > 0 else float("nan"))
    return ratios


# ------------------------------------------------------------------------------------------
# REPAIR (a control).

#: Added to the merged model's variance before dividing, as in BatchNorm (a dead unit keeps its
#: target mean, scaled by ~0).
REPAIR_EPS = 1e-5


def unit_stats(pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit mean and standard deviation (population, float64) of pre-activations (rows = inputs)."""
    p = pre.double()
    return p.mean(0), p.std(0, unbiased=False)


@torch.no_grad()
def repair_mlp(params_a: dict, params_b: dict, t: float, x: torch.Tensor, n_layers: int,
               eps: float = REPAIR_EPS) -> dict:
    """The MLP ``(1 - t) theta_a + t theta_b`` with REPAIR's per-unit affine correction of every
    hidden pre-activation, folded into ``fc.{l}.weight`` and ``fc.{l}.bias`` (a bias is added to
    bias-free layers). Targets: ``mu = (1 - t) mu_a + t mu_b`` and ``sigma = (1 - t) sigma_a +
    t sigma_b`` of the endpoints' pre-activations on ``x``. Layer ``l`` is measured with layers
    ``< l`` already corrected, so on ``x`` every hidden unit of the returned model has the target
    statistics (up to ``eps``). Computed in float64, returned in the parameters' dtype."""
    pre_a, _ = mlp_layers(params_a, x, n_layers)
    pre_b, _ = mlp_layers(params_b, x, n_layers)
    merged = {k: (1 - t) * params_a[k] + t * params_b[k] for k in params_a}
    out = dict(merged)
    h = x.flatten(1).double()
    for i in range(n_layers - 1):
        w = merged[f"fc.{i}.weight"].double()
        b = merged.get(f"fc.{i}.bias")
        b = torch.zeros(w.shape[0], dtype=torch.float64, device=w.device) if b is None else b.double()
        mu_m, sd_m = unit_stats(torch.nn.functional.linear(h, w, b))
        (mu_a, sd_a), (mu_b, sd_b) = unit_stats(pre_a[i]), unit_stats(pre_b[i])
        mu_t, sd_t = (1 - t) * mu_a + t * mu_b, (1 - t) * sd_a + t * sd_b
        den = torch.sqrt(sd_m ** 2 + eps)
        scale = torch.where(den > 0, sd_t / den.clamp_min(1e-300), torch.zeros_like(den))  # constant unit: its target mean
        w, b = scale[:, None] * w, scale * (b - mu_m) + mu_t
        dtype = merged[f"fc.{i}.weight"].dtype
        out[f"fc.{i}.weight"], out[f"fc.{i}.bias"] = w.to(dtype), b.to(dtype)
        h = torch.relu(torch.nn.functional.linear(h, w, b))
    return out


def mlp_logits(params: dict, x: torch.Tensor, n_layers: int, batch_size: int) -> torch.Tensor:
    """Logits of an MLP given by ``params`` (with or without biases), in batches."""
    with torch.no_grad():
        return torch.cat([mlp_layers(params, x[i:i + batch_size], n_layers)[1][-1]
                          for i in range(0, len(x), batch_size)])


def mean_finite(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")
