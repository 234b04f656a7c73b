"""The proposed model: invariances, the closed form inside it, gradients through it, and that
meta-training on the relative-DRE objective actually lowers the test error on new tasks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.meta.closed_form import rulsif_squared_loss
from papers.meta_rdre.method import MetaRDRE


def _gauss_tasks(n_tasks, n, gen, dim=2):
    """p_A = N(mu_A, I), p_B = N(mu_B, I) with random means: a family of related tasks."""
    mu_a = torch.randn(n_tasks, 1, dim, generator=gen)
    mu_b = mu_a + torch.randn(n_tasks, 1, dim, generator=gen)
    draw = lambda mu: mu + torch.randn(n_tasks, n, dim, generator=gen)  # noqa: E731
    return draw(mu_a), draw(mu_b), draw(mu_a), draw(mu_b)


def test_support_permutation_invariance():
    torch.manual_seed(0)
    model = MetaRDRE(3, hidden=16, embed_dim=8, set_dim=8)
    g = torch.Generator().manual_seed(1)
    sa, sb, qa, qb = _gauss_tasks(2, 12, g, dim=3)
    (r1,) = model.estimate(sa, sb, [qa])
    (r2,) = model.estimate(sa[:, torch.randperm(12)], sb[:, torch.randperm(12)], [qa])
    assert torch.allclose(r1, r2, atol=1e-5)
    # but the estimate does depend on the supports
    (r3,) = model.estimate(sb, sa, [qa])
    assert not torch.allclose(r1, r3, atol=1e-3)


def test_adapted_weights_minimise_the_support_loss():
    torch.manual_seed(0)
    model = MetaRDRE(2, hidden=16, embed_dim=6, set_dim=8).double()
    g = torch.Generator().manual_seed(2)
    sa, sb, _, _ = (t.double() for t in _gauss_tasks(1, 15, g))
    z, w = model.adapt(sa, sb)
    ha, hb = model.embeddings(sa, z).detach(), model.embeddings(sb, z).detach()
    lam = float(model.lam.detach())

    def obj(v):
        return rulsif_squared_loss(ha @ v, hb @ v, model.alpha).sum() + 0.5 * lam * (v ** 2).sum()
    base = obj(w.detach()[0])
    for _ in range(20):  # any perturbation increases the regularised support loss
        v = w.detach()[0] + 1e-2 * torch.randn(6, dtype=torch.float64)
        assert obj(v) > base
    grad = torch.autograd.functional.jacobian(obj, w.detach()[0])
    assert grad.abs().max() < 1e-8


class _MetaLoss(torch.nn.Module):
    """forward = the meta-training loss, so torch.func.functional_call can differentiate it."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, support_a, support_b, query_a, query_b):
        return self.m.meta_loss(support_a, support_b, query_a, query_b)


def test_gradcheck_meta_loss_through_closed_form():
    torch.manual_seed(0)
    wrap = _MetaLoss(MetaRDRE(2, hidden=3, embed_dim=2, set_dim=2, n_hidden=1).double())
    g = torch.Generator().manual_seed(3)
    sa, sb, qa, qb = (t.double() for t in _gauss_tasks(2, 5, g))
    names = [n for n, _ in wrap.named_parameters()]

    def loss(*ps):
        return torch.func.functional_call(wrap, dict(zip(names, ps)), (sa, sb, qa, qb))
    inputs = tuple(p.detach().clone().requires_grad_(True) for p in wrap.parameters())
    assert torch.autograd.gradcheck(loss, inputs, atol=1e-6)


def test_meta_training_lowers_test_error_on_new_tasks():
    torch.manual_seed(0)
    model = MetaRDRE(2, hidden=16, embed_dim=8, set_dim=8)
    g = torch.Generator().manual_seed(4)
    test = _gauss_tasks(32, 15, torch.Generator().manual_seed(99))

    def test_error():
        ra, rb = model.estimate(test[0], test[1], [test[2], test[3]])
        return float(rulsif_squared_loss(ra, rb, model.alpha).mean())
    before = test_error()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(50):
        sa, sb, qa, qb = _gauss_tasks(8, 15, g)
        loss = model.meta_loss(sa, sb, qa, qb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = test_error()
    # r = 1 everywhere scores -0.5; a useful estimator must go clearly below it and below the start
    assert after < before - 0.05
    assert after < -0.55


def test_ablation_has_no_dataset_encoder():
    m = MetaRDRE(3, hidden=8, embed_dim=4, set_dim=4, use_dataset_encoder=False)
    assert not hasattr(m, "enc_a")
    assert np.isfinite(float(m.meta_loss(*_gauss_tasks(2, 5, torch.Generator().manual_seed(0), dim=3)).detach()))


def test_lambda_positive_and_alpha_validated():
    m = MetaRDRE(2, init_lambda=0.3)
    assert float(m.lam.detach()) == pytest.approx(0.3, rel=1e-5)
    bad = MetaRDRE(2, alpha=1.5)
    with pytest.raises(ValueError, match="alpha"):
        bad.meta_loss(*_gauss_tasks(1, 4, torch.Generator().manual_seed(0)))
