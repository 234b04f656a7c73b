"""Networks of meta_occ: the instance encoder (an MLP) shared by every neural method."""

from __future__ import annotations

from torch import nn


def mlp(d_in: int, hidden: int, d_out: int, n_hidden: int = 2, bias: bool = True) -> nn.Sequential:
    """ReLU MLP; ``bias=False`` for Deep SVDD / SAD (a bias lets the network collapse onto the centre)."""
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(n_hidden):
        layers += [nn.Linear(d, hidden, bias=bias), nn.ReLU()]
        d = hidden
    layers.append(nn.Linear(d, d_out, bias=bias))
    return nn.Sequential(*layers)


class ResidualEncoder(nn.Module):
    """f(x) = x + g(x), g an MLP whose last layer starts at zero: meta-training starts from the input
    features (the encoder of every meta-learned method here; ours, the paper's is unknown)."""

    def __init__(self, d_in: int, hidden: int, n_hidden: int = 2) -> None:
        super().__init__()
        self.g = mlp(d_in, hidden, d_in, n_hidden)
        nn.init.zeros_(self.g[-1].weight)
        nn.init.zeros_(self.g[-1].bias)

    def forward(self, x):
        return x + self.g(x)
