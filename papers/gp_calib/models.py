"""Networks of the baselines: a batched functional MLP (one weight set per task, or per task and
ensemble member, for MAML's inner loop and the per-task deep ensembles) and the conditional neural
process. The proposed method's encoder is ``common.meta.encoders.mlp`` (method.py)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from common.meta.encoders import mlp

MIN_SCALE = 1e-3


def gaussian_head(out: Tensor, min_scale: float = MIN_SCALE) -> tuple[Tensor, Tensor]:
    """(mean, std) from a 2-unit output: std = min_scale + softplus (Lakshminarayanan et al. 2017)."""
    return out[..., 0], min_scale + F.softplus(out[..., 1])


def init_mlp_params(widths: list[int], batch: tuple[int, ...] = (), generator: torch.Generator | None = None,
                    dtype=torch.float64) -> list[Tensor]:
    """[W1, b1, W2, b2, ...] with W (*batch, in, out), PyTorch's default nn.Linear initialisation
    (uniform in +-1/sqrt(fan_in)), independently for every batch entry."""
    params = []
    for a, b in zip(widths[:-1], widths[1:]):
        bound = 1.0 / math.sqrt(a)
        params.append((torch.rand(*batch, a, b, generator=generator, dtype=dtype) * 2 - 1) * bound)
        params.append((torch.rand(*batch, 1, b, generator=generator, dtype=dtype) * 2 - 1) * bound)
    return params


def batched_mlp(params: list[Tensor], x: Tensor) -> Tensor:
    """ReLU MLP with per-batch weights: x (B, M, in) and W (B, in, out) -> (B, M, out)."""
    h = x
    for i in range(0, len(params), 2):
        h = torch.baddbmm(params[i + 1], h, params[i])
        if i + 2 < len(params):
            h = torch.relu(h)
    return h


class MetaMLP(nn.Module):
    """MAML's network: the meta-learned initialisation of a Gaussian-output MLP."""

    def __init__(self, in_dim: int, hidden: int, n_hidden: int) -> None:
        super().__init__()
        widths = [in_dim] + [hidden] * n_hidden + [2]
        self.params = nn.ParameterList([nn.Parameter(p) for p in init_mlp_params(widths, dtype=torch.float32)])

    def task_params(self, n_tasks: int) -> list[Tensor]:
        return [p.unsqueeze(0).expand(n_tasks, *p.shape) for p in self.params]


class ConditionalNeuralProcess(nn.Module):
    """CNP (Garnelo et al. 2018): r = mean_n h([x_n, y_n]); (mu, sigma) = g([x, r]);
    sigma = 0.01 + 0.99 softplus (Le et al. 2018)."""

    def __init__(self, in_dim: int, hidden: int, r_dim: int, n_hidden: int) -> None:
        super().__init__()
        self.h = mlp(in_dim + 1, hidden, r_dim, n_hidden)
        self.g = mlp(in_dim + r_dim, hidden, 2, n_hidden)

    def forward(self, xs: Tensor, ys: Tensor, xq: Tensor) -> tuple[Tensor, Tensor]:
        r = self.h(torch.cat([xs, ys.unsqueeze(-1)], -1)).mean(-2)
        out = self.g(torch.cat([xq, r.unsqueeze(-2).expand(*xq.shape[:-1], r.shape[-1])], -1))
        return out[..., 0], 0.01 + 0.99 * F.softplus(out[..., 1])
