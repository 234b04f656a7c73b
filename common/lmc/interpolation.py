"""The linear path between two models, its loss / accuracy barrier, distances and averaging.

- ``lerp(lam, a, b) = (1 - lam) a + lam b`` on parameter dicts; :func:`interpolation_curve`
  evaluates it at several ``lam``.
- Barrier (Frankle et al., 2020; Ainsworth et al., 2023): ``max_lam L(mix) - ((1 - lam) L(a) +
  lam L(b))`` for the loss, and the same gap below the straight line for the accuracy.
  :func:`barrier`.
- L2 distance between parameter vectors (:func:`l2_distance`), and the uniform average of
  already-aligned models (:func:`average`, model merging).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from common.lmc.permutation import Params


def lerp(lam: float, params_a: Mapping[str, torch.Tensor], params_b: Mapping[str, torch.Tensor]) -> Params:
    """``(1 - lam) theta_a + lam theta_b`` entry by entry; integer entries (BatchNorm's
    ``num_batches_tracked``) are not interpolated: they are taken from ``params_a``."""
    return {k: (1 - lam) * params_a[k] + lam * params_b[k] if params_a[k].is_floating_point() else params_a[k]
            for k in params_a}


@torch.no_grad()
def evaluate(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             batch_size: int = 5000) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of ``model`` with ``params`` on (x, y)."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        out = functional_call(model, dict(params), (x[i:i + batch_size],))
        loss += float(nn.functional.cross_entropy(out, y[i:i + batch_size], reduction="sum"))
        correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    return loss / len(x), 100.0 * correct / len(x)


def interpolation_curve(model: nn.Module, params_a: Params, params_b: Params, x: torch.Tensor, y: torch.Tensor,
                        lambdas: Iterable[float], batch_size: int = 5000) -> dict[str, list[float]]:
    """Loss and accuracy (%) of ``lerp(lam, a, b)`` at every ``lam``: ``{"lam", "loss", "acc_pct"}``."""
    lams = [float(v) for v in lambdas]
    losses, accs = zip(*(evaluate(model, lerp(lam, params_a, params_b), x, y, batch_size) for lam in lams))
    return {"lam": lams, "loss": list(losses), "acc_pct": list(accs)}


def barrier(curve: Mapping[str, list[float]]) -> tuple[float, float]:
    """(loss barrier, accuracy barrier in points): max over lam of the gap to the straight line
    between the endpoints (Frankle et al. 2020; Ainsworth et al. 2023)."""
    lam = np.asarray(curve["lam"])
    loss, acc = np.asarray(curve["loss"]), np.asarray(curve["acc_pct"])
    line_loss = (1 - lam) * loss[0] + lam * loss[-1]
    line_acc = (1 - lam) * acc[0] + lam * acc[-1]
    return float(np.max(loss - line_loss)), float(np.max(line_acc - acc))


def flat(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """All parameters as one float64 vector (keys in sorted order)."""
    return torch.cat([params[k].detach().reshape(-1).double().cpu() for k in sorted(params)])


def l2_distance(params_a: Mapping[str, torch.Tensor], params_b: Mapping[str, torch.Tensor]) -> float:
    return float(torch.linalg.vector_norm(flat(params_a) - flat(params_b)))


def average(param_list: list[Mapping[str, torch.Tensor]]) -> Params:
    """Uniform average of already-aligned models (model merging)."""
    return {k: sum(p[k] for p in param_list) / len(param_list) for k in param_list[0]}
