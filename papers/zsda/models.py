"""Networks shared by the method and the baselines: the instance feature extractor h(x), a plain
predictor (h + one linear head), the DANN domain discriminator and its gradient-reversal layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from common.meta.encoders import mlp


def feature_extractor(d_in: int, hidden: int, feat_dim: int) -> nn.Sequential:
    """h(x): two ReLU layers ``d_in -> hidden -> feat_dim`` (ours: the paper's architecture is unread)."""
    return mlp(d_in, hidden, feat_dim, n_hidden=1, final_activation=True)


class PlainPredictor(nn.Module):
    """h(x) followed by one linear head (the pooled, DANN, expert and oracle models). For regression a
    learned log noise scale makes the loss a Gaussian negative log-likelihood, as in the method."""

    def __init__(self, d_in: int, hidden: int, feat_dim: int, n_out: int) -> None:
        super().__init__()
        self.extractor = feature_extractor(d_in, hidden, feat_dim)
        self.head = nn.Linear(feat_dim, n_out)
        self.log_noise = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.extractor(x))


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: float) -> Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.weight * grad, None


def grad_reverse(x: Tensor, weight: float) -> Tensor:
    """Identity forward, gradient multiplied by ``-weight`` backward (Ganin et al. 2016)."""
    return _GradReverse.apply(x, weight)


def domain_discriminator(feat_dim: int, hidden: int, n_domains: int) -> nn.Sequential:
    return mlp(feat_dim, hidden, n_domains, n_hidden=1)
