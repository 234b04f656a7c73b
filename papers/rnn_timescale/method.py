"""The paper's analysis and proposal: the gradient condition for the forget gate as a time scale, and
gated RNNs whose forget gate represents longer time scales (Ohno & Kumagai 2021, arXiv 2111.03282).

Implemented here
* ``time_scale(f) = 1 / (1 - f)``: the time scale a forget (keep) gate value represents (the leaky-
  integrator reading used by chrono initialisation, Tallec & Ollivier 2018).
* ``state_gradient_profile``: the norm of dL/ds_{T-k} of the memory state (LSTM cell c, GRU hidden h)
  at every distance k back from the loss, and the mean log forget gate seen on the same batch.
  ``fit_exponential_decay`` fits log ||dL/ds_{T-k}|| = a + slope * k. The paper's condition (abstract):
  the forget gate is a valid time-scale representation when this gradient decays exponentially back in
  time; then the decay per step is governed by the forget gates, exp(slope) ~ f, i.e. slope ~ E[log f].
  ours: R^2 of the log-linear fit measures "exponential"; the paper's exact statistic is not readable.
* ``GatedRNN``: LSTM / GRU written as step loops (scriptable), identical to ``torch.nn.LSTM`` /
  ``torch.nn.GRU`` at ``power=1`` (tested), with
  - the proposed forget gate (ours: reconstructed from the abstract's argument, the paper's section is
    not readable here): f = 1 - (1 - sigmoid(z))^p, p = ``power`` > 1. Its time scale is
    T(z) = (1 + e^z)^p instead of 1 + e^z: the same pre-activation represents a time scale raised to the
    power p, so the time-scale distribution induced by a pre-activation distribution has a heavier tail
    (log T = p * softplus(z)), and time scales of hundreds of steps need |z| ~ 3 instead of ~ 5-6, where
    the sigmoid's gradient has not vanished yet. At p = 1 it is the ordinary sigmoid gate.
  - ``kind="ur_lstm"``: the UR-LSTM of Gu et al. (2020) (a baseline; its refine gate lives here because
    it needs the same step loop).
* ``impulse_response``: how long a perturbation of the first input stays in the state while inputs keep
  arriving (the paper's "inputs successively given" setting); its area is the effective time scale.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

KINDS = ("lstm", "gru", "ur_lstm")


def time_scale(f: torch.Tensor) -> torch.Tensor:
    """T = 1 / (1 - f): the characteristic time of a leaky integrator c_t = f c_{t-1} + (1 - f) x_t."""
    return 1.0 / (1.0 - f)


def power_forget_gate(z: torch.Tensor, power: float) -> torch.Tensor:
    """The proposed gate f = 1 - sigmoid(-z)^p (ours: reconstructed), computed as -expm1(p logsigmoid(-z))
    for accuracy near f = 1. p = 1 gives sigmoid(z) exactly."""
    if power == 1.0:
        return torch.sigmoid(z)
    return -torch.expm1(power * F.logsigmoid(-z))


class GatedRNN(nn.Module):
    """Single-layer gated RNN over (B, T, I) inputs (batch first), step by step.

    Weight layout follows torch: ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh``
    with gate blocks LSTM (i, f, g, o), GRU (r, z, n), UR-LSTM (f, r, g, o). In the GRU, z is the keep
    gate (h = (1 - z) n + z h_prev) and plays the forget gate's role.
    """

    def __init__(self, input_size: int, hidden_size: int, kind: str = "lstm", power: float = 1.0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if power < 1.0:
            raise ValueError(f"power must be >= 1 (1 = sigmoid gate), got {power}")
        self.kind, self.power, self.hidden_size = kind, float(power), hidden_size
        gates = 3 if kind == "gru" else 4
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(gates * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)  # torch.nn.LSTM / GRU default initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, keep_states: bool = False):
        """Returns (outputs h_1..h_T as (B, T, H), memory states s_1..s_T, forget gates f_1..f_T). The
        two lists are empty unless ``keep_states``; memory states are c_t (LSTM) or h_t (GRU)."""
        b, steps = x.size(0), x.size(1)
        hid = self.hidden_size
        h = x.new_zeros(b, hid)
        c = x.new_zeros(b, hid)
        gru = self.kind == "gru"
        # LSTM / UR-LSTM: both biases folded into the input projection, one addmm per step
        xp = F.linear(x, self.weight_ih, self.bias_ih if gru else self.bias_ih + self.bias_hh)
        w_hh_t = self.weight_hh.t()
        outs: list[torch.Tensor] = []
        states: list[torch.Tensor] = []
        forgets: list[torch.Tensor] = []
        for t in range(steps):
            a = xp[:, t]
            if gru:
                hp = torch.addmm(self.bias_hh, h, w_hh_t)
                r = torch.sigmoid(a[:, :hid] + hp[:, :hid])
                zg = power_forget_gate(a[:, hid:2 * hid] + hp[:, hid:2 * hid], self.power)
                n = torch.tanh(a[:, 2 * hid:] + r * hp[:, 2 * hid:])
                h = n + zg * (h - n)  # (1 - z) n + z h
                fg, s = zg, h
            else:
                g = torch.addmm(a, h, w_hh_t)
                sg = torch.sigmoid(g)
                if self.kind == "lstm":
                    fg = sg[:, hid:2 * hid] if self.power == 1.0 else power_forget_gate(g[:, hid:2 * hid], self.power)
                    c = torch.addcmul(fg * c, sg[:, :hid], torch.tanh(g[:, 2 * hid:3 * hid]))
                else:  # UR-LSTM, Gu et al. (2020): refine gate r adjusts the forget gate f
                    f0 = sg[:, :hid] if self.power == 1.0 else power_forget_gate(g[:, :hid], self.power)
                    r = sg[:, hid:2 * hid]
                    fg = r * (1.0 - (1.0 - f0) ** 2) + (1.0 - r) * f0 ** 2  # effective gate
                    u = torch.tanh(g[:, 2 * hid:3 * hid])
                    c = u + fg * (c - u)  # input gate tied to 1 - f
                h = sg[:, 3 * hid:] * torch.tanh(c)
                s = c
            outs.append(h)
            if keep_states:
                states.append(s)
                forgets.append(fg)
        return torch.stack(outs, 1), states, forgets


def from_torch(rnn: nn.Module, power: float = 1.0) -> GatedRNN:
    """A ``GatedRNN`` with the weights of a single-layer batch-first ``nn.LSTM`` / ``nn.GRU``."""
    kind = "lstm" if isinstance(rnn, nn.LSTM) else "gru" if isinstance(rnn, nn.GRU) else None
    if kind is None or rnn.num_layers != 1 or not rnn.bias or rnn.bidirectional or not rnn.batch_first:
        raise ValueError("from_torch needs a single-layer, biased, unidirectional, batch-first nn.LSTM or nn.GRU")
    out = GatedRNN(rnn.input_size, rnn.hidden_size, kind, power)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(out, name).copy_(getattr(rnn, name + "_l0"))
    return out.to(rnn.weight_ih_l0.device)


def state_gradient_profile(rnn: GatedRNN, loss_of_outputs, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(g, mean_log_f): g[k] = mean over the batch of ||dL/ds_{T-k}|| (the total derivative along every
    path), k = 0..T-1, for the loss ``loss_of_outputs(h_1..h_T as (B, T, H))``; and the mean of log f over
    units, steps and the batch."""
    out, states, forgets = rnn(x, keep_states=True)
    for s in states:
        s.retain_grad()
    loss_of_outputs(out).backward()
    grads = torch.stack([s.grad.norm(dim=1).mean() for s in reversed(states)])
    logf = torch.log(torch.stack(forgets).detach().clamp_min(1e-12)).mean()
    return grads.detach(), float(logf)


def fit_exponential_decay(g: torch.Tensor, start: int = 0, floor: float = 1e-30) -> dict[str, float]:
    """Least-squares fit of log g[k] = a + slope * k over the k >= start with g[k] > floor. Returns slope (per
    step; exp(slope) is the decay factor), r2 (1 = exactly exponential) and the number of points."""
    g = torch.as_tensor(g, dtype=torch.float64)
    k = torch.arange(len(g), dtype=torch.float64)
    ok = (g > floor) & (k >= start)
    if int(ok.sum()) < 3:
        return {"slope": float("nan"), "r2": float("nan"), "n": int(ok.sum())}
    k, y = k[ok], torch.log(g[ok])
    km, ym = k.mean(), y.mean()
    sxx = ((k - km) ** 2).sum()
    slope = ((k - km) * (y - ym)).sum() / sxx
    resid = y - (ym + slope * (k - km))
    sst = ((y - ym) ** 2).sum()
    r2 = 1.0 - float((resid ** 2).sum() / sst) if float(sst) > 0 else 1.0
    return {"slope": float(slope), "r2": r2, "n": int(ok.sum())}


@torch.no_grad()
def impulse_response(rnn: GatedRNN, x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """d[t] = mean over the batch of ||s_t(x + eps e_0) - s_t(x)|| / eps, the effect of a perturbation of
    the first input on the memory state at every later step, with the other inputs still arriving."""
    x2 = x.clone()
    x2[:, 0] += eps
    _, s1, _ = rnn(x, keep_states=True)
    _, s2, _ = rnn(x2, keep_states=True)
    return torch.stack([(b - a).norm(dim=1).mean() / eps for a, b in zip(s1, s2)])


def effective_time_scale(response: torch.Tensor) -> float:
    """Area under the impulse response, in units of its first value (= 1 / (1 - f) for a leaky integrator)."""
    return float(response.sum() / response[0])
