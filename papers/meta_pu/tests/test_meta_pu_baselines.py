"""Key properties of the baselines: Elkan-Noto's logistic regression = scikit-learn's, uPU is unbiased,
nnPU's correction, ProtoNet-PU's negative prototype, the registry."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from papers.meta_pu import baselines as B


def test_newton_logistic_regression_matches_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    s = (x[:, 0] + 0.5 * rng.normal(size=80) > 0.3).astype(float)
    for c in (0.1, 1.0, 10.0):
        theta = B.logistic_regression_newton(torch.as_tensor(x), torch.as_tensor(s), torch.ones(80,
                                             dtype=torch.float64), c)
        ref = LogisticRegression(C=c, tol=1e-12, max_iter=10000).fit(x, s)
        np.testing.assert_allclose(theta[:-1].numpy(), ref.coef_[0], atol=1e-6)
        np.testing.assert_allclose(theta[-1].item(), ref.intercept_[0], atol=1e-6)


def test_upu_risk_is_unbiased_for_the_pn_risk():
    """For a fixed classifier, the uPU risk from P and U equals the prior-weighted PN risk as data grow."""
    rng = np.random.default_rng(1)
    pi, n = 0.3, 200000
    pos = rng.normal(1.0, 1.0, n)
    y_u = rng.random(n) < pi
    unl = np.where(y_u, rng.normal(1.0, 1.0, n), rng.normal(-1.0, 1.0, n))
    g = lambda v: torch.as_tensor(2.0 * v - 0.2)  # noqa: E731
    prior = torch.tensor(pi, dtype=torch.float64)
    upu = float(B.upu_risk(g(pos), g(unl), prior))
    pn = float(pi * torch.sigmoid(-g(unl[y_u])).mean() + (1 - pi) * torch.sigmoid(g(unl[~y_u])).mean())
    assert upu == pytest.approx(pn, abs=5e-3)


def test_nnpu_clamps_the_negative_part_and_follows_minus_it():
    g_pos = torch.tensor([[-3.0, -2.0]])     # positives look negative -> E_P l(-g) large
    g_unl = torch.tensor([[-5.0, -4.0, -6.0]])
    prior = torch.tensor([0.9])
    pos, neg = B.pu_risk_parts(g_pos, g_unl, prior)
    assert float(neg) < 0
    assert float(B.nnpu_risk(g_pos, g_unl, prior)) == pytest.approx(float(pos))
    assert float(B.nnpu_objective(g_pos, g_unl, prior)) == pytest.approx(-float(neg))
    assert float(B.upu_risk(g_pos, g_unl, prior)) < float(B.nnpu_risk(g_pos, g_unl, prior))


def test_protonet_negative_prototype_from_the_mixture_identity():
    torch.manual_seed(0)
    model = B.ProtoPU(2, 8, 4, 1).double()
    model.f = torch.nn.Identity()
    c_p, c_n, pi = torch.tensor([1.0, 0.0]), torch.tensor([-2.0, 3.0]), 0.25
    x_pos = c_p.repeat(1, 4, 1).double()
    x_unl = torch.cat([c_p.repeat(1, 1, 1), c_n.repeat(1, 3, 1)], 1).double()   # exactly pi = 1/4 positives
    s = model.scores(x_pos, x_unl, torch.stack([c_p, c_n]).unsqueeze(0).double(), torch.tensor([pi]).double())
    d = float(((c_p - c_n) ** 2).sum())
    np.testing.assert_allclose(s[0].numpy(), [d + np.log(pi / (1 - pi)), -d + np.log(pi / (1 - pi))], atol=1e-9)


def test_registry_holds_every_method():
    assert set(B.METHODS) == {"proposed", "upu", "nnpu", "elkan_noto", "ulsif", "protonet", "maml", "pn_oracle"}
    assert {m for m, s in B.METHODS.items() if s.meta_learned} == {"proposed", "protonet", "maml"}
