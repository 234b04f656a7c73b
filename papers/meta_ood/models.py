"""Networks of meta_ood: the instance encoder shared by the neural methods, and the per-task classifier.

Every neural method uses the same MLP body (two hidden ReLU layers of width ``hidden``; ours, the
paper's architecture is unknown), built with ``common.meta.encoders.mlp``.
"""

from __future__ import annotations

from torch import nn

from common.meta.encoders import mlp


class ResidualEncoder(nn.Module):
    """z = x + g(x), g an MLP whose last layer starts at zero, so training starts from the input features."""

    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.g = mlp(d_in, hidden, d_in, n_hidden=2)
        nn.init.zeros_(self.g[-1].weight)
        nn.init.zeros_(self.g[-1].bias)

    def forward(self, x):
        return x + self.g(x)


def encoder(d_in: int, hidden: int, latent_dim: int, kind: str = "mlp") -> nn.Module:
    """x -> z: the latent space of the proposed method, ProtoNet and the pre-trained encoder. ``mlp``: two hidden
    layers to ``latent_dim``; ``residual``: ``ResidualEncoder`` (latent dimension = input dimension)."""
    if kind == "residual":
        return ResidualEncoder(d_in, hidden)
    if kind != "mlp":
        raise ValueError(f"encoder must be mlp or residual, got {kind!r}")
    return mlp(d_in, hidden, latent_dim, n_hidden=2)


class Classifier(nn.Module):
    """A softmax classifier whose penultimate features (after a ReLU) feed the Mahalanobis detector."""

    def __init__(self, d_in: int, hidden: int, feat_dim: int, n_classes: int) -> None:
        super().__init__()
        self.body = mlp(d_in, hidden, feat_dim, n_hidden=1, final_activation=True)
        self.head = nn.Linear(feat_dim, n_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))
