"""Few-shot time-series forecaster of Iwata & Kumagai (2020): an RNN with attention over the support
series of the target task.

Reconstructed from the abstract, the issue and the peer code named in the brief (gluonts nursery
``IwataKumagaiEcDc``: bidirectional LSTM support encoder, LSTM query encoder, attention,
feed-forward decoder); the equations are numbered here, not the paper's (unreadable):

    f_{n,s} = LSTM(x_{n,1..s}),  b_{n,s} = LSTM_bwd(x_{n,s..T})   support encoder, every step s of n  (Eq. 1)
    z_t     = LSTM(x*_1..x*_t)                    query encoder: the same forward LSTM              (Eq. 2)
    k_{n,s} = K [f_{n,s}; x_{n,s-w+1..s}],   q_t = K [z_t; x*_{t-w+1..t}]     one map K for both
    v_{n,s} = V [f_{n,s}; b_{n,s}; x_{n,s+1..s+w}]
    a_t     = sum_{n,s} softmax_{n,s}(-tau ||q_t - k_{n,s}||^2 / sqrt(d)) v_{n,s}   attention, retrieval (Eq. 3)
    x^*_{t+1} = x*_t + f([z_t; x*_{t-w+1..t}; a_t])   forecaster built from both                   (Eq. 4)
    L = E_task E_{S,Q ~ task} mean_{x* in Q, t} (x^*_{t+1} - x*_{t+1})^2   next-step error of held-out series (Eq. 5)

Deviations / reconstructed choices (ours): one-layer LSTMs; the forward LSTM is shared by the support
and query series (the abstract speaks of one RNN) and keys and queries go through one map K with
the last w raw values appended, scored by negative squared distance with a learned temperature tau
(initial 10), so equal patterns match from the start: a first version with dot-product attention and
separate key / query maps stayed uniform over the support steps and retrieved nothing, even on a toy
task built for retrieval. The value adds the backward state and the w values that followed step s
(what the retrieved pattern did next). The residual ``x*_t +`` in Eq. 4 (the decoder predicts the
change); point forecasts (the peer code's quantile outputs are not used). The attention-free
ablation replaces ``a_t`` by a permutation-invariant summary of the support set (V applied to the mean
over n of the final states of both directions), so it still sees the support set.
Multi-step forecasts feed the model's own forecasts back (recursive).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class AttentionForecaster(nn.Module):
    def __init__(self, hidden: int = 32, attn_dim: int = 32, mlp_hidden: int = 64, attention: bool = True,
                 temperature: float = 10.0, window: int = 4) -> None:
        super().__init__()
        self.attention = attention
        self.query_rnn = nn.LSTM(1, hidden, batch_first=True)                          # Eq. 1-2 (forward)
        self.backward_rnn = nn.LSTM(1, hidden, batch_first=True)                       # Eq. 1 (backward)
        self.window = window
        self.key = nn.Linear(hidden + window, attn_dim)
        self.value = nn.Linear(2 * hidden + window, attn_dim)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)))
        self.decoder = nn.Sequential(nn.Linear(hidden + window + attn_dim, mlp_hidden), nn.ReLU(),
                                     nn.Linear(mlp_hidden, 1))                           # Eq. 4

    # ---- support set -> memory
    def windows(self, x: torch.Tensor, buffer: torch.Tensor | None = None):
        """(the last ``window`` values at every step (N, L, w), the new buffer (N, w)); zeros before the start."""
        if buffer is None:
            buffer = x.new_zeros(x.shape[0], self.window)
        padded = torch.cat([buffer, x], 1)
        return padded.unfold(1, self.window, 1)[:, 1:], padded[:, -self.window:]

    def encode_support(self, support: torch.Tensor):
        """support (N, T) -> (keys (N*T, d), values (N*T, d)), or the pooled summary (1, d) without attention."""
        f, _ = self.query_rnn(support.unsqueeze(-1))                                    # (N, T, H)
        b = self.backward_rnn(support.flip(1).unsqueeze(-1))[0].flip(1)                 # (N, T, H)
        if not self.attention:
            summary = torch.cat([f[:, -1], b[:, 0]], -1).mean(0, keepdim=True)          # (1, 2H)
            return self.value(torch.cat([summary, summary.new_zeros(1, self.window)], -1))
        k = torch.cat([f, self.windows(support)[0]], -1)
        after = torch.cat([support, support.new_zeros(support.shape[0], self.window)], 1)
        after = after.unfold(1, self.window, 1)[:, 1:support.shape[1] + 1]             # x_{n,s+1..s+w}
        v = torch.cat([f, b, after], -1)
        return self.key(k.reshape(-1, k.shape[-1])), self.value(v.reshape(-1, v.shape[-1]))

    def attend(self, z: torch.Tensor, memory):
        """z (..., H + w) -> (a (..., d), weights (..., N*T)) (Eq. 3); without attention: the summary."""
        if not self.attention:
            return memory.expand(*z.shape[:-1], memory.shape[-1]), None
        keys, values = memory
        q = self.key(z)  # the same map as the keys: equal patterns match exactly
        sq_dist = q.pow(2).sum(-1, keepdim=True) - 2 * q @ keys.T + keys.pow(2).sum(-1)
        scores = -self.log_temperature.exp() * sq_dist / math.sqrt(keys.shape[-1])
        w = torch.softmax(scores, -1)
        return w @ values, w

    def readout(self, z: torch.Tensor, x_last: torch.Tensor, memory) -> torch.Tensor:
        a, _ = self.attend(z, memory)
        return x_last + self.decoder(torch.cat([z, a], -1)).squeeze(-1)                # Eq. 4

    def step(self, x: torch.Tensor, state=None):
        """Query steps: x (Q, L) observed values -> (z (Q, L, H + w): the LSTM state and the last w
        values at every step, state)."""
        lstm_state, buffer = state if state is not None else (None, None)
        z, lstm_state = self.query_rnn(x.unsqueeze(-1), lstm_state)
        win, buffer = self.windows(x, buffer)
        return torch.cat([z, win], -1), (lstm_state, buffer)

    def forward(self, support: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-step forecasts: out[:, t] forecasts x[:, t + 1] from x[:, :t + 1]."""
        memory = self.encode_support(support)
        z, _ = self.step(x)
        return self.readout(z, x, memory)


def next_step_loss(model, support: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Eq. 5 for one task: mean squared next-step error over every step of the held-out query series."""
    pred = model(support, query[:, :-1])
    return (pred - query[:, 1:]).pow(2).mean()


@torch.no_grad()
def forecast(model, support: torch.Tensor, query: torch.Tensor, t0: int, horizon: int):
    """(next (Q, T - t0), multi (Q, horizon)): one-step-ahead forecasts of steps t0..T-1 from the true
    past, and a recursive ``horizon``-step forecast from the first ``t0`` steps."""
    memory = model.encode_support(support)
    z, _ = model.step(query[:, :-1])
    nxt = model.readout(z, query[:, :-1], memory)[:, t0 - 1:]
    z, state = model.step(query[:, :t0])
    last, zt = query[:, t0 - 1:t0], z[:, -1:]
    out = []
    for h in range(horizon):
        last = model.readout(zt, last, memory)
        out.append(last)
        if h + 1 < horizon:
            zt, state = model.step(last, state)
    return nxt, torch.cat(out, 1)


@torch.no_grad()
def attention_weights(model: AttentionForecaster, support: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """(Q, L, N, T) attention weights of every query step over every support step (Eq. 3)."""
    memory = model.encode_support(support)
    z, _ = model.step(query)
    _, w = model.attend(z, memory)
    return w.reshape(*w.shape[:-1], support.shape[0], support.shape[1])
