"""The proposed network: permutation equivariance over examples and attributes, any number of attributes, the
closed-form head against torch.linalg.lstsq (and gradcheck), and the ablation's independence of unlabelled data."""

import pytest
import torch

from papers.hetero_ssl.method import HeteroSSLNet, column_mask, weighted_ridge


def _net(problem="classification", unlabelled=True, seed=0):
    torch.manual_seed(seed)
    net = HeteroSSLNet(problem, 2 if problem == "classification" else 1, dim=16, heads=2, layers=2, embed=6,
                       head_steps=2, unlabelled=unlabelled).double().eval()
    return net


def _task(d, n_l=4, n_u=7, seed=1, problem="classification"):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n_l + n_u, d, generator=g, dtype=torch.float64)
    if problem == "classification":
        y_l = torch.nn.functional.one_hot(torch.arange(n_l) % 2, 2).double()[None]
    else:
        y_l = torch.randn(1, n_l, 1, generator=g, dtype=torch.float64)
    return x, y_l


@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_equivariant_over_examples_and_invariant_over_attributes(problem):
    net = _net(problem)
    x, y_l = _task(5, problem=problem)
    out = net(x, y_l)
    # attributes in another order: the same estimates
    torch.testing.assert_close(net(x[:, :, torch.randperm(5)], y_l), out)
    # unlabelled instances in another order: the estimates follow them
    perm_u = torch.randperm(7)
    xu = torch.cat([x[:, :4], x[:, 4:][:, perm_u]], 1)
    torch.testing.assert_close(net(xu, y_l), out[:, perm_u])
    # labelled instances (with their labels) in another order: the same estimates
    perm_l = torch.randperm(4)
    xl = torch.cat([x[:, :4][:, perm_l], x[:, 4:]], 1)
    torch.testing.assert_close(net(xl, y_l[:, perm_l]), out)


def test_one_network_serves_3_and_50_attributes():
    net = _net()
    for d in (3, 50):
        x, y_l = _task(d, seed=d)
        out = net(x, y_l)
        assert out.shape == (1, 7, 2) and torch.isfinite(out).all()
        # the estimates depend on the attribute values
        assert not torch.allclose(net(x + 0.5 * torch.randn_like(x), y_l), out)


def test_weighted_ridge_matches_lstsq():
    g = torch.Generator().manual_seed(0)
    phi = torch.randn(3, 9, 4, generator=g, dtype=torch.float64)
    t = torch.randn(3, 9, 2, generator=g, dtype=torch.float64)
    w = torch.rand(3, 9, generator=g, dtype=torch.float64) + 0.1
    lam = 0.7
    ours = weighted_ridge(phi, t, w, lam)
    # ridge = least squares on [sqrt(w) phi; sqrt(lam) I] against [sqrt(w) t; 0]
    a = torch.cat([phi * w.sqrt()[..., None], (lam ** 0.5) * torch.eye(4, dtype=torch.float64).expand(3, 4, 4)], 1)
    b = torch.cat([t * w.sqrt()[..., None], torch.zeros(3, 4, 2, dtype=torch.float64)], 1)
    torch.testing.assert_close(ours, torch.linalg.lstsq(a, b).solution)
    # lam -> 0 with unit weights: ordinary least squares
    torch.testing.assert_close(weighted_ridge(phi, t, torch.ones(3, 9, dtype=torch.float64), 1e-10),
                               torch.linalg.lstsq(phi, t).solution, atol=1e-7, rtol=1e-6)


def test_weighted_ridge_gradcheck():
    g = torch.Generator().manual_seed(1)
    phi = torch.randn(2, 6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(2, 6, 2, generator=g, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(2, 6, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda p, tt, ww: weighted_ridge(p, tt, ww, 0.3), (phi, t, w))


def test_unlabelled_instances_matter_only_in_the_proposed_method():
    x, y_l = _task(4)
    x2 = x.clone()
    x2[0, -1] += 3.0          # move the last unlabelled instance
    full, ablation = _net(unlabelled=True), _net(unlabelled=False)
    assert not torch.allclose(full(x2, y_l)[:, :-1], full(x, y_l)[:, :-1])
    torch.testing.assert_close(ablation(x2, y_l)[:, :-1], ablation(x, y_l)[:, :-1])


def test_attribute_cells_never_see_their_own_label_cells():
    m = column_mask(3, 2)
    assert m.shape == (5, 7)
    assert not m[:3, 3:5].any() and m[:3, :3].all() and m[:3, 5:].all() and m[3:, :5].all()
