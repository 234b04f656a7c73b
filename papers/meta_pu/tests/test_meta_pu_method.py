"""Numerical checks of the proposed adaptation (closed form, Bayes rule, prior estimate, gradients)."""

import math

import numpy as np
import pytest
import torch

from papers.meta_pu import method as M
from papers.meta_pu.data import GaussianTaskSource, bayes_accuracy


@pytest.fixture(autouse=True)
def _float64():
    """These checks run in float64; the default dtype is restored after each test (a module-level
    set_default_dtype leaked float64 into every later test module of the session)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _features(k=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, 15, k, generator=g), torch.randn(3, 40, k, generator=g)


def test_closed_form_equals_lstsq_and_gradient_descent():
    """w = (H_U + lam I)^-1 hbar_P is the least-squares solution of [H_U^(1/2) rows; sqrt(lam) I] w = [0; hbar_P/sqrt(lam)]
    (whose normal equations are the same), and the minimiser of the uLSIF objective J(w) found by gradient descent."""
    h_p, h_u = _features()
    lam = 0.3
    w = M.pu_ratio_weights(h_p, h_u, lam)
    k = h_p.shape[-1]
    for t in range(h_p.shape[0]):
        a = torch.cat([h_u[t] / math.sqrt(h_u.shape[1]), math.sqrt(lam) * torch.eye(k)])
        b = torch.cat([torch.zeros(h_u.shape[1]), h_p[t].mean(0) / math.sqrt(lam)])
        ref = torch.linalg.lstsq(a, b.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
        torch.testing.assert_close(w[t], ref, atol=1e-10, rtol=1e-9)
    v = torch.zeros_like(w, requires_grad=True)
    opt = torch.optim.LBFGS([v], lr=1, max_iter=500, tolerance_grad=1e-12, tolerance_change=0,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = M.ulsif_objective(v, h_p, h_u, lam).sum()
        loss.backward()
        return loss
    opt.step(closure)
    torch.testing.assert_close(v.detach(), w, atol=1e-7, rtol=1e-6)
    assert (M.ulsif_objective(w, h_p, h_u, lam) <= M.ulsif_objective(w + 1e-3, h_p, h_u, lam)).all()


def test_gradcheck_through_the_solve():
    h_p, h_u = _features(k=4)
    h_p, h_u = h_p[:, :5].clone().requires_grad_(), h_u[:, :7].clone().requires_grad_()
    lam = torch.tensor(0.2, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: M.pu_ratio_weights(a, b, c), (h_p, h_u, lam))


def test_meta_loss_backpropagates_to_every_parameter():
    torch.manual_seed(0)
    model = M.MetaPU(3, hidden=8, embed_dim=4, set_dim=4, n_hidden=1)
    xp, xu, xq = torch.randn(2, 5, 3), torch.randn(2, 9, 3), torch.randn(2, 6, 3)
    yq = torch.tensor([[1, 0, 1, 0, 1, 0], [0, 0, 1, 1, 0, 1]])
    for prior in (torch.tensor([0.3, 0.6]), None):
        model.zero_grad()
        model.meta_loss(xp, xu, xq, yq, prior).backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert model.raw_lambda.grad.abs() > 0


def _rbf(x, centers, sigma=1.0):
    return torch.exp(-torch.cdist(x, centers) ** 2 / (2 * sigma ** 2))


def _gaussian_task(n_pos, n_unl, n_query, prior, seed, dim=1, distance=(2.0, 2.0)):
    src = GaussianTaskSource(dim, n_pos, n_unl, n_query, (prior, prior), distance=distance, spread=0.0)
    return src.sample(np.random.default_rng(seed))


@pytest.mark.parametrize("prior", [0.3, 0.5, 0.7])
def test_classifier_approaches_the_bayes_rule_on_two_gaussians(prior):
    """The closed-form ratio on a fixed rich feature map (RBF) + the rule pi r >= 1/2 agrees with the
    Bayes rule of the two known Gaussians on more and more test points as the PU data grow."""
    centers = torch.linspace(-4, 6, 30).unsqueeze(-1)
    agree = []
    for n in (50, 4000):
        task = _gaussian_task(n, 4 * n, 4000, prior, seed=1)
        t = {k: torch.as_tensor(getattr(task, k)) for k in ("x_pos", "x_unl", "x_query")}
        w = M.pu_ratio_weights(_rbf(t["x_pos"], centers), _rbf(t["x_unl"], centers), 1e-3 / math.sqrt(n))
        ours = (prior * (_rbf(t["x_query"], centers) @ w) >= 0.5).numpy()
        mu_p, mu_n = task.info["mu_p"], task.info["mu_n"]
        xq = task.x_query
        log_ratio = -0.5 * ((xq - mu_p) ** 2).sum(1) + 0.5 * ((xq - mu_n) ** 2).sum(1)
        bayes = log_ratio + np.log(prior / (1 - prior)) > 0
        agree.append(float(np.mean(ours == bayes)))
        acc = float(np.mean(ours == task.y_query.astype(bool)))
    assert agree[-1] >= 0.98 and agree[-1] >= agree[0] - 0.005
    assert acc >= bayes_accuracy(task) - 0.01


@pytest.mark.parametrize("prior", [0.25, 0.5, 0.75])
def test_prior_estimate_within_tolerance_on_synthetic_data(prior):
    """pi_hat = 1 / max r recovers the prior of well-separated Gaussians from PU data (tolerance 0.1)."""
    task = _gaussian_task(3000, 6000, 10, prior, seed=2, dim=1, distance=(6.0, 6.0))
    centers = torch.linspace(-5, 11, 40).unsqueeze(-1)
    xp, xu = torch.as_tensor(task.x_pos), torch.as_tensor(task.x_unl)
    w = M.pu_ratio_weights(_rbf(xp, centers), _rbf(xu, centers), 1e-4)
    r_all = _rbf(torch.cat([xp, xu]), centers) @ w
    est = float(M.prior_from_ratio(r_all))
    assert abs(est - prior) < 0.1, (est, prior)


def test_sigmoid_risk_is_the_zero_one_risk_in_the_limit():
    s = torch.tensor([[2.0, -1.0, 0.5, -3.0]])
    y = torch.tensor([[1, 1, 0, 0]])
    assert float(M.sigmoid_risk(1e4 * s, y)) == pytest.approx(0.5)   # errors at positions 1 and 2
    assert float(M.sigmoid_risk(torch.zeros_like(s), y)) == pytest.approx(0.5)
