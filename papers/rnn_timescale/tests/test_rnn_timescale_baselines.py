"""The time-scale initialisations give their stated bias distributions; the registry builds every method."""

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from papers.rnn_timescale import baselines as B
from papers.rnn_timescale import method as M
from papers.rnn_timescale.config import METHOD_NAMES, Config


def test_chrono_bias_distribution():
    """Tallec & Ollivier: b_f = log(u), u ~ U[1, T_max - 1]; b_i = -b_f; recurrent biases 0."""
    gen = torch.Generator().manual_seed(0)
    lstm = B.chrono_init_(nn.LSTM(1, 2000, batch_first=True), 100.0, gen)
    h = 2000
    bf = lstm.bias_ih_l0.data[h:2 * h].numpy()
    u = np.exp(bf)
    assert u.min() >= 1.0 and u.max() <= 99.0
    assert stats.kstest(u, stats.uniform(loc=1, scale=98).cdf).pvalue > 0.01
    np.testing.assert_allclose(lstm.bias_ih_l0.data[:h].numpy(), -bf)
    assert lstm.bias_hh_l0.data[:2 * h].abs().max() == 0


def test_uniform_gate_distribution_and_refine_bias():
    gen = torch.Generator().manual_seed(1)
    h = 2000
    lstm = B.uniform_init_(nn.LSTM(1, h, batch_first=True), gen)
    f = torch.sigmoid(lstm.bias_ih_l0.data[h:2 * h]).numpy()
    assert f.min() >= 1 / h and f.max() <= 1 - 1 / h
    assert stats.kstest(f, stats.uniform(loc=1 / h, scale=1 - 2 / h).cdf).pvalue > 0.01
    ur = B.METHODS["ur_lstm"](Config(hidden=16), 1, 50, torch.Generator().manual_seed(2)).as_gated()
    torch.testing.assert_close(ur.bias_ih.data[16:32], -ur.bias_ih.data[:16])


def test_registry_builds_every_method_with_equal_parameter_counts_per_family():
    cfg = Config(hidden=8)
    counts = {}
    for m in METHOD_NAMES:
        rnn = B.METHODS[m](cfg, 2, 30, torch.Generator().manual_seed(0))
        assert rnn(torch.randn(3, 5, 2)).shape == (3, 5, 8)
        counts[m] = sum(p.numel() for p in rnn.parameters())
    assert counts["ts_lstm"] == counts["lstm"] == counts["chrono_lstm"] == counts["ur_lstm"]
    assert counts["ts_gru"] == counts["gru"]


def test_same_seed_same_model_other_seed_other_model():
    a = B.METHODS["ts_lstm"](Config(hidden=4), 2, 10, torch.Generator().manual_seed(5))
    b = B.METHODS["ts_lstm"](Config(hidden=4), 2, 10, torch.Generator().manual_seed(5))
    c = B.METHODS["ts_lstm"](Config(hidden=4), 2, 10, torch.Generator().manual_seed(6))
    assert torch.equal(a.rnn.weight_hh, b.rnn.weight_hh) and not torch.equal(a.rnn.weight_hh, c.rnn.weight_hh)


def test_chrono_needs_tmax_above_two():
    with pytest.raises(ValueError, match="T_max"):
        B.chrono_biases(4, 2.0, torch.Generator())


def test_proposed_starts_from_chronos_weights_with_longer_time_scales():
    cfg = Config(hidden=64)
    ts = B.METHODS["ts_lstm"](cfg, 2, 100, torch.Generator().manual_seed(3)).as_gated()
    ch = B.METHODS["chrono_lstm"](cfg, 2, 100, torch.Generator().manual_seed(3)).as_gated()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        torch.testing.assert_close(getattr(ts, name), getattr(ch, name))
    bf = ts.bias_ih.data[64:128]
    t_chrono = 1 + torch.exp(bf)
    torch.testing.assert_close(1 / (1 - M.power_forget_gate(bf.double(), 2.0)), t_chrono.double() ** 2)
