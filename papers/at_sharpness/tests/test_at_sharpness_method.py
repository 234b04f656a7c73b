"""Closed forms of method.py against autograd, PGD, scikit-learn and known spectra."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from papers.at_sharpness import method as M


@pytest.fixture(scope="module")
def toy():
    g = torch.Generator().manual_seed(0)
    n, d = 80, 6
    y = torch.where(torch.rand(n, generator=g) < 0.4, -1.0, 1.0).double()
    x = torch.randn(n, d, generator=g, dtype=torch.float64) + 0.8 * y[:, None] * torch.linspace(1, 0, d).double()
    theta = torch.randn(d + 1, generator=g, dtype=torch.float64)
    return x, y, theta


@pytest.mark.parametrize("eps", [0.0, 0.3, 1.1])
def test_hessian_equals_autograd(toy, eps):
    x, y, theta = toy
    ref = torch.autograd.functional.hessian(lambda t: M.adversarial_loss(t, x, y, eps), theta)
    torch.testing.assert_close(M.adversarial_hessian(theta, x, y, eps), ref, atol=1e-13, rtol=1e-11)
    h_data, h_dir = M.hessian_terms(theta, x, y, eps)
    assert torch.allclose(h_dir[-1], torch.zeros_like(h_dir[-1]))  # the bias is not perturbed
    if eps > 0:  # the direction term: one eigenvalue eps mean(s)/||w|| on the d-1 directions orthogonal to w
        ev = torch.linalg.eigvalsh(h_dir)
        top = eps * torch.sigmoid(M.margins(theta, x, y, eps)).mean() / theta[:-1].norm()
        torch.testing.assert_close(ev[-(x.shape[1] - 1):], top.expand(x.shape[1] - 1))
        assert ev[:2].abs().max() < 1e-12


def test_gradient_equals_autograd_and_gradcheck(toy):
    x, y, theta = toy
    for eps in (0.0, 0.5):
        ref = torch.autograd.functional.jacobian(lambda t, e=eps: M.adversarial_loss(t, x, y, e), theta)
        torch.testing.assert_close(M.adversarial_gradient(theta, x, y, eps), ref, atol=1e-14, rtol=1e-12)
    assert torch.autograd.gradcheck(lambda t: M.adversarial_loss(t, x, y, 0.5), (theta.clone().requires_grad_(),))


def test_closed_form_is_pgds_converged_inner_maximum(toy):
    x, y, theta = toy
    eps = 0.7
    closed = torch.nn.functional.softplus(M.margins(theta, x, y, eps))
    xa = M.pgd_l2(lambda xx: M.per_example_loss(theta, xx, y), x, eps, 200, step_size=0.05,
                  generator=torch.Generator().manual_seed(1))  # random start, small steps
    torch.testing.assert_close(M.per_example_loss(theta, xa, y), closed, atol=1e-9, rtol=0)
    assert torch.all((xa - x).norm(dim=1) <= eps + 1e-12)
    # the worst case delta* = -eps y w/||w|| attains it, and random points of the ball stay below it
    torch.testing.assert_close(M.per_example_loss(theta, x + M.worst_case_perturbation(theta, y, eps), y), closed)
    g = torch.Generator().manual_seed(2)
    for _ in range(20):
        r = torch.randn(x.shape, generator=g, dtype=x.dtype)
        delta = eps * torch.rand(len(x), 1, generator=g, dtype=x.dtype) * r / r.norm(dim=1, keepdim=True)
        assert torch.all(M.per_example_loss(theta, x + delta, y) <= closed + 1e-12)


def test_newton_reaches_the_optimum_and_matches_sklearn_at_eps0(toy):
    x, y, _ = toy
    l2 = 1e-2
    fit = M.fit_newton(x, y, 0.0, l2, tol=1e-11)
    assert fit.converged and fit.grad_norm <= 1e-11
    ref = LogisticRegression(C=1.0 / (l2 * len(y)), tol=1e-12, max_iter=10000).fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(fit.theta[:-1].numpy(), ref.coef_[0], atol=1e-6)
    np.testing.assert_allclose(fit.theta[-1].item(), ref.intercept_[0], atol=1e-6)


def test_collapse_radius_separates_zero_and_nonzero_optima(toy):
    x, y, _ = toy
    r = M.collapse_radius(x, y)
    torch.testing.assert_close(torch.tensor(r, dtype=torch.float64), 0.5 * (x[y > 0].mean(0) - x[y < 0].mean(0)).norm())
    for frac in (0.5, 0.95, 0.99):  # below the radius: a converged optimum with w != 0, ||w|| -> 0 as frac -> 1
        fit = M.fit_newton(x, y, frac * r, 1e-3, tol=1e-10)
        assert fit.converged and fit.theta[:-1].norm() > 1e-3
    norms = [M.fit_newton(x, y, f * r, 1e-3).theta[:-1].norm().item() for f in (0.5, 0.9, 0.99)]
    assert norms[0] > norms[1] > norms[2]
    # beyond it w = 0 (with the best bias) beats every point tried
    eps, p = 1.05 * r, (y > 0).double().mean()
    zero = torch.cat([torch.zeros(x.shape[1], dtype=x.dtype), torch.log(p / (1 - p))[None]])
    f0 = M.objective(zero, x, y, eps, 1e-3)
    g = torch.Generator().manual_seed(3)
    for scale in (1e-4, 1e-2, 1.0):
        for _ in range(10):
            cand = zero + scale * torch.randn(zero.shape, generator=g, dtype=x.dtype)
            assert M.objective(cand, x, y, eps, 1e-3) >= f0 - 1e-15


def test_top_eigenvalue_grows_with_eps_on_breast_cancer():
    from sklearn.datasets import load_breast_cancer

    xs, ys = load_breast_cancer(return_X_y=True)
    x = torch.as_tensor((xs - xs.mean(0)) / xs.std(0))
    y = torch.as_tensor(np.where(ys == 1, 1.0, -1.0))
    r = M.collapse_radius(x, y)
    tops = []
    for frac in (0.0, 0.3, 0.6, 0.9):
        fit = M.fit_newton(x, y, frac * r, 1e-3)
        assert fit.converged
        dec = M.hessian_decomposition(fit.theta, x, y, frac * r)
        assert abs(dec["data_share"] + dec["dir_share"] - dec["top"]) < 1e-9 * dec["top"]
        tops.append(dec["top"])
    assert all(b > a for a, b in zip(tops, tops[1:])), tops


def test_power_iteration_finds_the_top_eigenvalue_of_a_known_matrix():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(30, 30, generator=g, dtype=torch.float64))
    evals = torch.linspace(0.1, 3.0, 30, dtype=torch.float64)
    evals[-1] = 5.0
    a = q @ torch.diag(evals) @ q.T
    like = {"w": torch.zeros(5, 4, dtype=torch.float64), "b": torch.zeros(10, dtype=torch.float64)}

    def hvp(v):
        flat = a @ torch.cat([v["w"].flatten(), v["b"]])
        return {"w": flat[:20].view(5, 4), "b": flat[20:]}

    lam, iters, change = M.top_hessian_eigenvalue(hvp, like, iters=500, rtol=1e-12, generator=g)
    assert abs(lam - 5.0) < 1e-8 and change < 1e-10 and iters < 500


def test_hvp_matches_the_explicit_hessian_of_a_network():
    from torch.func import functional_call

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randint(0, 2, (16,))
    params = {k: v.detach() for k, v in net.named_parameters()}
    names, shapes = list(params), [p.shape for p in params.values()]

    def loss(p):
        return torch.nn.functional.cross_entropy(functional_call(net, p, (x,)), y)

    def loss_flat(flat):
        parts = torch.split(flat, [s.numel() for s in shapes])
        return loss({n: t.view(s) for n, t, s in zip(names, parts, shapes)})

    flat = torch.cat([p.flatten() for p in params.values()])
    h = torch.autograd.functional.hessian(loss_flat, flat)
    v = {k: torch.randn(p.shape, dtype=torch.float64) for k, p in params.items()}
    hv = M.hvp_fn(loss, params)(v)
    torch.testing.assert_close(torch.cat([hv[k].flatten() for k in names]),
                               h @ torch.cat([v[k].flatten() for k in names]))


def test_filter_normalised_direction_has_the_filters_norms():
    torch.manual_seed(0)
    params = {"conv.weight": torch.randn(8, 3, 3, 3), "conv.bias": torch.randn(8), "fc.weight": torch.randn(4, 10)}
    d = M.filter_normalized_direction(params, torch.Generator().manual_seed(1))
    for k in ("conv.weight", "fc.weight"):
        torch.testing.assert_close(d[k].flatten(1).norm(dim=1), params[k].flatten(1).norm(dim=1))
    assert torch.count_nonzero(d["conv.bias"]) == 0
    assert M.filter_normalized_sharpness(lambda p: sum((t ** 2).sum() for t in p.values()), params, 0.0, 2) == 0.0
