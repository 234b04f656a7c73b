"""Permutation-invariant dataset encoders (Deep Sets, Zaheer et al. 2017) and MLP builders.

A dataset encoder maps a set of instances (..., N, D) to one vector (..., E) that does not
depend on the order of the instances:  ``rho( pool_n phi(x_n) )`` with mean (or sum / max)
pooling. An optional mask (..., N) (1 = real, 0 = padding) lets one batch hold sets of
different sizes; padded rows never influence the output.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh, "gelu": nn.GELU}


def mlp(in_dim: int, hidden: int | Sequence[int], out_dim: int, n_hidden: int = 2,
        activation: str = "relu", final_activation: bool = False) -> nn.Sequential:
    """A feed-forward network ``in_dim -> hidden x n_hidden -> out_dim``.

    ``hidden`` may be a list of widths (then ``n_hidden`` is ignored). ``n_hidden = 0`` gives a
    linear map.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
    widths = list(hidden) if isinstance(hidden, (list, tuple)) else [int(hidden)] * n_hidden
    layers: list[nn.Module] = []
    prev = in_dim
    for w in widths:
        layers += [nn.Linear(prev, w), ACTIVATIONS[activation]()]
        prev = w
    layers.append(nn.Linear(prev, out_dim))
    if final_activation:
        layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def masked_mean(v: Tensor, mask: Tensor | None, dim: int = -2) -> Tensor:
    """Mean of ``v`` over ``dim`` counting only rows where ``mask`` is 1 (all rows when None)."""
    if mask is None:
        return v.mean(dim)
    m = mask.to(v.dtype).unsqueeze(-1)
    return (v * m).sum(dim) / m.sum(dim).clamp_min(1.0)


class DeepSetEncoder(nn.Module):
    """``rho(pool_{n in S} phi(x_n))``: a permutation-invariant encoder of one set.

    Args:
        in_dim: instance dimension D.
        hidden: width of the hidden layers of phi and rho.
        out_dim: size of the set representation.
        n_hidden: hidden layers of phi and of rho.
        pool: ``mean`` (size-independent; default), ``sum`` or ``max``.
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, n_hidden: int = 2, pool: str = "mean",
                 activation: str = "relu") -> None:
        super().__init__()
        if pool not in ("mean", "sum", "max"):
            raise ValueError(f"pool must be mean, sum or max, got {pool!r}")
        self.pool = pool
        self.phi = mlp(in_dim, hidden, hidden, n_hidden, activation, final_activation=True)
        self.rho = mlp(hidden, hidden, out_dim, n_hidden, activation)

    def pooled(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The pooled instance features before rho, (..., hidden)."""
        f = self.phi(x)
        if self.pool == "mean":
            return masked_mean(f, mask)
        if self.pool == "sum":
            return (f * (mask.to(f.dtype).unsqueeze(-1) if mask is not None else 1.0)).sum(-2)
        if mask is not None:
            f = f.masked_fill(~mask.bool().unsqueeze(-1), float("-inf"))
        return f.max(-2).values

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.rho(self.pooled(x, mask))
