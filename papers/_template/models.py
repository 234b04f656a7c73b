"""Networks of the template paper: a single linear layer (softmax regression)."""

from __future__ import annotations

import torch
from torch import nn


class SoftmaxRegression(nn.Module):
    def __init__(self, d_in: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)
