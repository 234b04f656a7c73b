"""The proposed model: attention weights are a distribution, the forecast does not depend on the order
of the support series, and a series copied into the support set is forecast better (retrieval)."""

import numpy as np
import pytest
import torch

from papers.fewshot_ts import method as M
from papers.fewshot_ts import train as T
from papers.fewshot_ts.baselines import knn
from papers.fewshot_ts.config import Config

# float32 LSTMs: reordering the support rows changes only the summation order of the attention
# (a softmax over N*T scores and its weighted sum), a few float32 ulps of O(1) values
ATOL = 1e-5


def _model(attention=True, seed=0):
    torch.manual_seed(seed)
    return M.AttentionForecaster(hidden=16, attn_dim=16, mlp_hidden=32, attention=attention).eval()


def _series(n, t, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.cumsum(torch.randn(n, t, generator=g), 1) / 4


def test_attention_weights_sum_to_one():
    model = _model()
    s, q = _series(5, 20, 1), _series(3, 12, 2)
    w = M.attention_weights(model, s, q)
    assert w.shape == (3, 12, 5, 20)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum((-1, -2)), torch.ones(3, 12), atol=1e-6, rtol=0)


@pytest.mark.parametrize("attention", [True, False])
def test_support_permutation_leaves_the_forecast_unchanged(attention):
    model = _model(attention)
    s, q = _series(6, 24, 3), _series(4, 24, 4)
    a = M.forecast(model, s, q, 12, 5)
    b = M.forecast(model, s[torch.tensor([3, 0, 5, 1, 4, 2])], q, 12, 5)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=ATOL, rtol=0)
    # and the support set matters at all (the check above could not pass vacuously)
    c = M.forecast(model, _series(6, 24, 9), q, 12, 5)
    assert (a[0] - c[0]).abs().max() > 1e-4


def _rough(rng, n, t):
    """Unrelated rough series (white noise smoothed over 3 steps, standardised): only a copy of the
    query in the support set can make its next steps predictable."""
    x = np.apply_along_axis(lambda v: np.convolve(v, np.ones(3) / 3, mode="same"), -1, rng.standard_normal((n, t)))
    return torch.as_tensor((x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True), dtype=torch.float32)


def test_a_series_copied_into_the_support_set_is_forecast_better():
    """Meta-train briefly on episodes whose queries are in the support set half of the time; then a
    query whose copy is in the support set is forecast better than one whose is not, and the
    attention puts most of its mass on the copy."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = M.AttentionForecaster(hidden=16, attn_dim=16, mlp_hidden=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        x = _rough(rng, 8, 24)
        support = torch.cat([x[:3], x[4:]]) if rng.random() < 0.5 else x[:4]
        opt.zero_grad()
        M.next_step_loss(model, support, x[4:]).backward()
        opt.step()
    model.eval()
    x = _rough(np.random.default_rng(1), 40, 24)
    q, others = x[:20], x[20:24]
    with_copy = [float(((M.forecast(model, torch.cat([others[:3], q[i:i + 1]]), q[i:i + 1], 12, 1)[0]
                         - q[i, 12:]) ** 2).mean()) for i in range(20)]
    without = [float(((M.forecast(model, others, q[i:i + 1], 12, 1)[0] - q[i, 12:]) ** 2).mean()) for i in range(20)]
    assert np.mean(with_copy) < 0.5 * np.mean(without)
    w = M.attention_weights(model, torch.cat([others[:3], q[:1]]), q[:1])
    assert float(w[0, 12:, 3].sum(-1).mean()) > 0.5  # uniform attention would put 1/4 on the copy


def test_knn_retrieves_an_exact_copy():
    x = _rough(np.random.default_rng(2), 5, 30).numpy()
    cfg = Config(knn_k=1, knn_window=6)
    nxt, multi = knn(cfg, None).predict(np.concatenate([x[1:4], x[:1]]), x[:1], 15, 5)
    np.testing.assert_allclose(nxt, x[:1, 15:], atol=1e-6)
    np.testing.assert_allclose(multi, x[:1, 15:20], atol=1e-6)


def test_maml_adaptation_lowers_the_support_error():
    from papers.fewshot_ts.models import LSTMForecaster

    torch.manual_seed(0)
    model = LSTMForecaster(8, 16)
    s = _rough(np.random.default_rng(3), 4, 20)
    before = T.mse_next(model, s).item()
    after = T.mse_next(T.maml_adapted_copy(model, s, 3, 0.05), s).item()
    assert after < before
    # the inner loop is differentiable (second order): the meta-gradient reaches every parameter
    T.maml_loss(model, s[:2], s[2:], 1, 0.05).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
