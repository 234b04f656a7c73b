"""The Concrete selector, the order invariance of the selection, and duplicated columns."""

import numpy as np
import pytest
import torch

from papers.fewshot_fs import method as M
from papers.fewshot_fs.models import FewShotSelector


def test_concrete_sample_becomes_one_hot_as_temperature_goes_to_zero():
    logits = torch.randn(5, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    peaks = []
    for temp in [10.0, 1.0, 0.1, 1e-2, 1e-4]:
        m = M.concrete_sample(logits, temp, torch.Generator().manual_seed(1))   # same Gumbel noise each time
        assert torch.allclose(m.sum(-1), torch.ones(5, dtype=torch.float64), atol=1e-12)
        peaks.append(m.max(-1).values.min().item())
    assert all(a <= b + 1e-12 for a, b in zip(peaks, peaks[1:])), peaks    # sharper as T decreases
    assert peaks[0] < 0.5 and peaks[-1] > 1 - 1e-9
    # the limit is the one-hot at argmax(logits + g) (Gumbel-max)
    u = torch.rand(logits.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).clamp_(1e-10, 1 - 1e-7)
    g = -torch.log(-torch.log(u))
    assert torch.equal(m.argmax(-1), (logits + g).argmax(-1))


def test_temperature_schedule_and_distinct_selection():
    assert M.temperature(0, 100, 10.0, 0.01) == pytest.approx(10.0)
    assert M.temperature(99, 100, 10.0, 0.01) == pytest.approx(0.01)
    logits = torch.tensor([[5.0, 1.0, 0.0], [4.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    # variable 0 (max 5) takes feature 0; variable 1 (max 4) would take 0, takes 2; variable 2 takes 1
    assert M.distinct_top(logits).tolist() == [0, 2, 1]
    # the result is in the variables' order, not in the greedy order
    assert M.distinct_top(torch.tensor([[0.0, 1.0, 0.0], [0.0, 9.0, 0.0]])).tolist() == [0, 1]
    with pytest.raises(ValueError):
        M.distinct_top(torch.zeros(4, 3))


def test_selection_is_invariant_to_the_order_of_the_target_instances():
    torch.manual_seed(0)
    model = FewShotSelector(dim=20, n_selected=4, hidden=16, embed=8, feature_hidden=4).double()
    rng = np.random.default_rng(0)
    s = rng.random((12, 20))
    perm = rng.permutation(12)
    a = model.logits(torch.as_tensor(s)[None])
    b = model.logits(torch.as_tensor(s[perm])[None])
    assert torch.allclose(a, b, atol=1e-12)
    assert M.select(model, s).tolist() == M.select(model, s[perm]).tolist()
    q = rng.random((5, 20))
    idx = M.select(model, s)
    np.testing.assert_allclose(M.decoder_reconstruction(model, s, idx, q),
                               M.decoder_reconstruction(model, s[perm], idx, q), atol=1e-12)
    # ...while another set does change the logits (the invariance is not a constant output)
    assert not torch.allclose(a, model.logits(torch.as_tensor(rng.random((12, 20)))[None]), atol=1e-6)


def test_duplicated_columns_one_column_per_group():
    """Tasks whose 12 columns are 4 latent values, each copied 3 times: K = 4 must take one of each copy group."""
    groups, copies = 4, 3
    gen_np = np.random.default_rng(0)

    def draw(rng, n, n_tasks=8, q=20):
        scale = rng.uniform(0.5, 1.5, (n_tasks, 1, groups))            # task-specific latent scales
        v = rng.random((n_tasks, n + q, groups)) * scale
        x = np.repeat(v, copies, axis=-1).astype(np.float32)          # columns g*3 .. g*3+2 are copies
        return x[:, :n], x[:, n:]

    torch.manual_seed(0)
    model = FewShotSelector(groups * copies, groups, hidden=32, embed=8)
    M.meta_train(model, draw, 200, 1e-2, 5.0, 0.05, torch.Generator().manual_seed(0), (5, 10), gen_np)
    for _ in range(3):
        s, _ = draw(gen_np, 8, n_tasks=1)
        idx = M.select(model, s[0])
        assert sorted(i // copies for i in idx) == list(range(groups)), idx
