"""Architectures of the paper's official code (dchiji-ntt/meta-ticket @ e9ca2c25, models/networks).

* :class:`FewShotMLP` -- ``models/networks/mlp.py``: Linear -> BatchNorm1d -> ReLU blocks with sizes
  ``[256, 128, 64, 64] x width factor`` for Omniglot (``[1024, 512, 256, 128]`` for the 5-layer
  CIFAR-FS MLP), then a linear classifier. BatchNorm uses batch statistics only
  (``track_running_stats=False``, eps 1e-3) and is affine, as in the official config.
* :class:`SinusoidMLP` -- ``models/sinusoid_base.py``: 1 -> 40 -> 40 -> 1 with ReLU.

Initialisation follows the official code: every linear weight (classifier included) Kaiming-normal
(fan-in, ReLU gain), biases zero, BatchNorm weight 1 / bias 0.
"""

from __future__ import annotations

import torch
from torch import nn


def kaiming_normal_(weight: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """In-place Kaiming-normal (fan_in, ReLU gain) -- the paper's fixed random weights."""
    fan_in = weight.shape[1] if weight.dim() > 1 else weight.shape[0]
    std = (2.0 / fan_in) ** 0.5
    with torch.no_grad():
        weight.normal_(0.0, std, generator=generator)
    return weight


class LinearBlock(nn.Module):
    def __init__(self, d_in: int, d_out: int, bn: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.normalize = nn.BatchNorm1d(d_out, eps=1e-3, affine=True, track_running_stats=False) if bn else nn.Identity()
        kaiming_normal_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.normalize(self.linear(x)))


class FewShotMLP(nn.Module):
    """MLP of the official code. ``forward(x, return_features=True)`` also returns every block's output."""

    head_prefix = "classifier."

    def __init__(self, in_dim: int, n_out: int, sizes: list[int], bn: bool = True) -> None:
        super().__init__()
        dims = [in_dim] + list(sizes)
        self.features = nn.Sequential(*[LinearBlock(a, b, bn) for a, b in zip(dims[:-1], dims[1:])])
        self.classifier = nn.Linear(dims[-1], n_out)
        kaiming_normal_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        h = x.flatten(1)
        feats = []
        for block in self.features:
            h = block(h)
            feats.append(h)
        out = self.classifier(h)
        return (out, feats) if return_features else out


class SinusoidMLP(nn.Module):
    """1 -> hidden -> hidden -> 1, ReLU (official ``SinusoidMLP``; default init of nn.Linear kept,
    the sparse layer hidden2 is re-initialised Kaiming-normal by Meta-ticket as in SparseModule)."""

    head_prefix = "hidden3."

    def __init__(self, hidden: int = 40) -> None:
        super().__init__()
        self.hidden1 = nn.Linear(1, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.hidden3 = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        h1 = torch.relu(self.hidden1(x))
        h2 = torch.relu(self.hidden2(h1))
        out = self.hidden3(h2)
        return (out, [h1, h2]) if return_features else out


def mlp_sizes(base: str, width_factor: float) -> list[int]:
    """``"256,128,64,64"`` x factor -> ``[256f, 128f, 64f, 64f]`` (official: int(s * factor))."""
    try:
        sizes = [int(s) for s in base.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"hidden_sizes must be comma-separated integers, got {base!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError(f"hidden_sizes must be positive integers, got {base!r}")
    return [int(s * width_factor) for s in sizes]
