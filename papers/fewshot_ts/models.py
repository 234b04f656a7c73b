"""The plain LSTM forecaster of the baselines (per-task LSTM, pooled LSTM +- fine-tuning, MAML).

Same query encoder and decoder as the proposed model (method.py) without any support input, so
``method.forecast`` and ``method.next_step_loss`` apply to it unchanged (the support set is ignored).
"""

from __future__ import annotations

import torch
from torch import nn


class LSTMForecaster(nn.Module):
    def __init__(self, hidden: int = 32, mlp_hidden: int = 64) -> None:
        super().__init__()
        self.query_rnn = nn.LSTM(1, hidden, batch_first=True)
        self.decoder = nn.Sequential(nn.Linear(hidden, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, 1))

    def encode_support(self, support: torch.Tensor):
        return None

    def step(self, x: torch.Tensor, state=None):
        z, state = self.query_rnn(x.unsqueeze(-1), state)
        return z, state

    def readout(self, z: torch.Tensor, x_last: torch.Tensor, memory=None) -> torch.Tensor:
        return x_last + self.decoder(z).squeeze(-1)

    def forward(self, support, x: torch.Tensor) -> torch.Tensor:
        z, _ = self.step(x)
        return self.readout(z, x)
