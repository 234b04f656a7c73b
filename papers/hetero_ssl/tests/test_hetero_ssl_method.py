"""The proposed network: permutation equivariance over examples and attributes, any number of attributes, and
the ablation's independence of unlabelled data. Its shared parts (the closed-form head ``weighted_ridge`` against
torch.linalg.lstsq and gradcheck, the attention layer and its masks) are tested in tests/test_common_meta.py."""

import pytest
import torch

from papers.hetero_ssl.method import HeteroSSLNet


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


def test_unlabelled_instances_matter_only_in_the_proposed_method():
    x, y_l = _task(4)
    x2 = x.clone()
    x2[0, -1] += 3.0          # move the last unlabelled instance
    full, ablation = _net(unlabelled=True), _net(unlabelled=False)
    assert not torch.allclose(full(x2, y_l)[:, :-1], full(x, y_l)[:, :-1])
    torch.testing.assert_close(ablation(x2, y_l)[:, :-1], ablation(x, y_l)[:, :-1])
