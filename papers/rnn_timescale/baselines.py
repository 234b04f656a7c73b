"""The RNNs compared, under one protocol, and the registry ``METHODS`` (the proposal included).

* ``lstm`` / ``gru``: ``torch.nn.LSTM`` / ``torch.nn.GRU`` with torch's default initialisation.
* ``chrono_lstm`` (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?"): forget bias
  b_f = log(u), u ~ U[1, T_max - 1], input bias b_i = -b_f, so the initial time scales 1 + e^{b_f} are
  spread uniformly up to T_max.
* ``uniform_lstm`` (the uniform gate initialisation of Gu et al. 2020): b_f = logit(u),
  u ~ U[1/H, 1 - 1/H], so the initial forget gates are uniform over (1/H, 1 - 1/H).
* ``ur_lstm`` (Gu et al. 2020, "Improving the gating mechanism of recurrent neural networks"): the
  refine gate (method.GatedRNN kind 'ur_lstm') with the uniform initialisation, refine bias -b_f.
* ``ts_lstm`` / ``ts_gru``: the proposed gate f = 1 - (1 - sigmoid(z))^p (method.py) with the chrono
  bias initialisation (ours: the abstract says the gradient condition agrees with the initialisation
  methods; the same bias distribution as ``chrono_lstm`` then represents time scales (1 + U)^p, a heavier
  tail than chrono's 1 + U). ``ts_lstm`` and ``chrono_lstm`` of one seed start from identical weights and
  differ only in the gate.

A builder maps (cfg, input_size, torch.Generator) to an RNN module whose forward returns (B, T, H) outputs
first; ``as_gated`` gives its step-loop twin for the gradient diagnostic.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from papers.rnn_timescale import method as M


def _bias_block(rnn: nn.Module, name: str, gate: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    suffix = "_l0" if isinstance(rnn, (nn.LSTM, nn.GRU)) else ""
    bi, bh = getattr(rnn, "bias_ih" + suffix), getattr(rnn, "bias_hh" + suffix)
    sl = slice(gate * hidden, (gate + 1) * hidden)
    return bi.data[sl], bh.data[sl]


def chrono_biases(hidden: int, t_max: float, gen: torch.Generator) -> torch.Tensor:
    """b_f = log(U[1, T_max - 1]) (Tallec & Ollivier 2018, Sec. 3)."""
    if t_max <= 2:
        raise ValueError(f"chrono needs T_max > 2, got {t_max}")
    return torch.log(1.0 + (t_max - 2.0) * torch.rand(hidden, generator=gen))


def uniform_gate_biases(hidden: int, gen: torch.Generator) -> torch.Tensor:
    """b_f = logit(u), u ~ U[1/H, 1 - 1/H] (Gu et al. 2020, uniform gate initialisation)."""
    lo = 1.0 / hidden
    u = lo + (1.0 - 2.0 * lo) * torch.rand(hidden, generator=gen)
    return torch.log(u) - torch.log1p(-u)


def chrono_init_(rnn: nn.Module, t_max: float, gen: torch.Generator, forget_gate: int = 1,
                 input_gate: int | None = 0) -> nn.Module:
    """Set the forget bias to chrono and the input bias to its negative (LSTM gate order i, f, g, o); the
    recurrent copies of both to 0. For a GRU pass forget_gate=1 (its update gate z), input_gate=None."""
    h = rnn.hidden_size
    bf = chrono_biases(h, t_max, gen)
    with torch.no_grad():
        for gate, value in ((forget_gate, bf), (input_gate, -bf)):
            if gate is None:
                continue
            bi, bh = _bias_block(rnn, "", gate, h)
            bi.copy_(value)
            bh.zero_()
    return rnn


def uniform_init_(rnn: nn.Module, gen: torch.Generator, forget_gate: int = 1, refine_gate: int | None = None):
    h = rnn.hidden_size
    bf = uniform_gate_biases(h, gen)
    with torch.no_grad():
        bi, bh = _bias_block(rnn, "", forget_gate, h)
        bi.copy_(bf)
        bh.zero_()
        if refine_gate is not None:
            bi, bh = _bias_block(rnn, "", refine_gate, h)
            bi.copy_(-bf)
            bh.zero_()
    return rnn


class TorchRNN(nn.Module):
    """nn.LSTM / nn.GRU returning only the outputs."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn
        self.hidden_size = rnn.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]

    def as_gated(self) -> M.GatedRNN:
        return M.from_torch(self.rnn)


class CustomRNN(nn.Module):
    def __init__(self, rnn: M.GatedRNN):
        super().__init__()
        self.rnn = rnn
        self.hidden_size = rnn.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]

    def as_gated(self) -> M.GatedRNN:
        return self.rnn


def _seeded(module_fn: Callable[[], nn.Module], gen: torch.Generator) -> nn.Module:
    """Build a module with its weights drawn from ``gen`` (torch's init reads the global RNG)."""
    state = torch.random.get_rng_state()
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    try:
        return module_fn()
    finally:
        torch.random.set_rng_state(state)


def _t_max(cfg, steps: int) -> float:
    return float(cfg.chrono_tmax or steps)


METHODS: dict[str, Callable[..., nn.Module]] = {
    "lstm": lambda cfg, i, steps, g: TorchRNN(_seeded(lambda: nn.LSTM(i, cfg.hidden, batch_first=True), g)),
    "gru": lambda cfg, i, steps, g: TorchRNN(_seeded(lambda: nn.GRU(i, cfg.hidden, batch_first=True), g)),
    "chrono_lstm": lambda cfg, i, steps, g: TorchRNN(chrono_init_(
        _seeded(lambda: nn.LSTM(i, cfg.hidden, batch_first=True), g), _t_max(cfg, steps), g)),
    "uniform_lstm": lambda cfg, i, steps, g: TorchRNN(uniform_init_(
        _seeded(lambda: nn.LSTM(i, cfg.hidden, batch_first=True), g), g)),
    "ur_lstm": lambda cfg, i, steps, g: CustomRNN(uniform_init_(
        _seeded(lambda: M.GatedRNN(i, cfg.hidden, "ur_lstm"), g), g, forget_gate=0, refine_gate=1)),
    "ts_lstm": lambda cfg, i, steps, g: CustomRNN(chrono_init_(
        _seeded(lambda: M.GatedRNN(i, cfg.hidden, "lstm", cfg.ts_power), g), _t_max(cfg, steps), g)),
    "ts_gru": lambda cfg, i, steps, g: CustomRNN(chrono_init_(
        _seeded(lambda: M.GatedRNN(i, cfg.hidden, "gru", cfg.ts_power), g), _t_max(cfg, steps), g, 1, None)),
}

