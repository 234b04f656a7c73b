"""Numerical checks of method.py: the step-loop cells equal torch's, the gradient diagnostic recovers a
known decay rate, the proposed gate's time scale, and the impulse response."""

import math

import pytest
import torch
from torch import nn

from papers.rnn_timescale import method as M


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_step_loop_equals_torch(cls):
    torch.manual_seed(0)
    ref = cls(3, 5, batch_first=True)
    x = torch.randn(4, 7, 3)
    ours = M.from_torch(ref)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], rtol=1e-5, atol=1e-6)


def test_fit_recovers_exponential_rate():
    k = torch.arange(60, dtype=torch.float64)
    fit = M.fit_exponential_decay(3.0 * 0.9 ** k)
    assert fit["slope"] == pytest.approx(math.log(0.9), rel=1e-9) and fit["r2"] == pytest.approx(1.0)
    bumpy = M.fit_exponential_decay(1.0 / (1.0 + k) ** 2)  # a power law is not exponential
    assert bumpy["r2"] < 0.9


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_gradient_diagnostic_on_a_linear_memory_recovers_the_rate(power):
    """Constant forget gate a (no recurrent weights, zero forget-gate input weights): c_t = a c_{t-1} + ..., so
    dL/dc_{T-k} = a^k dL/dc_T exactly and the fitted slope is log a = mean log f."""
    torch.manual_seed(1)
    rnn = M.GatedRNN(2, 4, "lstm", power)
    a = 0.8
    z = math.log(a / (1 - a)) if power == 1.0 else math.log((1 - a) ** (-1 / power) - 1)  # f(z) = a
    with torch.no_grad():
        rnn.weight_hh.zero_()
        rnn.weight_ih[4:8].zero_()
        rnn.bias_ih[4:8] = z
        rnn.bias_hh[4:8] = 0.0
    head = nn.Linear(4, 1)
    g, logf = M.state_gradient_profile(rnn, lambda out: head(out[:, -1]).pow(2).sum(), torch.randn(8, 40, 2))
    fit = M.fit_exponential_decay(g)
    assert fit["slope"] == pytest.approx(math.log(a), abs=1e-6)
    assert logf == pytest.approx(math.log(a), abs=1e-6) and fit["r2"] == pytest.approx(1.0, abs=1e-9)


def test_proposed_gate_time_scale_is_a_power_of_the_sigmoids():
    z = torch.linspace(-6, 6, 49, dtype=torch.float64)
    torch.testing.assert_close(M.power_forget_gate(z, 1.0), torch.sigmoid(z))
    for p in (1.5, 2.0, 3.0):
        torch.testing.assert_close(M.time_scale(M.power_forget_gate(z, p)), (1 + torch.exp(z)) ** p)


def test_proposed_cell_has_a_longer_impulse_response_at_equal_parameters():
    torch.manual_seed(2)
    lstm = M.GatedRNN(3, 16, "lstm", 1.0)
    ts = M.GatedRNN(3, 16, "lstm", 2.0)
    ts.load_state_dict(lstm.state_dict())
    x = torch.randn(32, 80, 3)
    t_lstm = M.effective_time_scale(M.impulse_response(lstm, x))
    t_ts = M.effective_time_scale(M.impulse_response(ts, x))
    assert t_ts > 1.5 * t_lstm, (t_ts, t_lstm)
    assert sum(p.numel() for p in ts.parameters()) == sum(p.numel() for p in lstm.parameters())


def test_cells_are_scriptable():
    for kind in ("lstm", "gru", "ur_lstm"):
        cell = M.GatedRNN(2, 3, kind, 2.0)
        try:
            scripted = torch.jit.script(cell)
        except Exception as exc:  # noqa: BLE001 - TorchScript removed from this torch build
            pytest.skip(f"torch.jit.script unavailable: {exc}")
        x = torch.randn(2, 5, 2)
        torch.testing.assert_close(scripted(x)[0], cell(x)[0])
