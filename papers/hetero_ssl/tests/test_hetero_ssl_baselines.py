"""Baselines: the 2020 meta-learner is attribute-order invariant and serves any number of attributes; padding;
MAML adapts; the per-task models, including label-spreading regression, on tasks with known answers."""

import numpy as np
import pytest
import torch

from papers.hetero_ssl import baselines as B


def test_hetero2020_invariant_to_attribute_order_and_any_width():
    torch.manual_seed(0)
    for problem, n_lab in (("classification", 2), ("regression", 1)):
        net = B.Hetero2020Net(problem, n_lab, hidden=8).double().eval()
        x = torch.randn(2, 9, 5, dtype=torch.float64)
        y_l = (torch.nn.functional.one_hot(torch.arange(4) % 2, 2).double()[None].expand(2, -1, -1)
               if n_lab == 2 else torch.randn(2, 4, 1, dtype=torch.float64))
        out = net(x, y_l)
        assert out.shape == (2, 5, n_lab)
        torch.testing.assert_close(net(x[..., torch.randperm(5)], y_l), out)
        assert net(torch.randn(2, 9, 40, dtype=torch.float64), y_l).shape == (2, 5, n_lab)


def test_padding_and_maml_inner_loop_fits_the_labelled_instances():
    x = torch.randn(1, 3, 4)
    assert B.pad_attributes(x, 6).shape == (1, 3, 6) and (B.pad_attributes(x, 6)[..., 4:] == 0).all()
    assert torch.equal(B.pad_attributes(x, 2), x[..., :2])
    torch.manual_seed(0)
    maml = B.PaddedMAML("regression", 6, 1, hidden=16, inner_steps=20, inner_lr=0.05)
    xs = torch.randn(1, 10, 4)
    y_l = xs[:, :6, :1] * 2.0
    start = ((maml.net(B.pad_attributes(xs[:, :6], 6)) - y_l) ** 2).mean()
    maml.steps = 20
    adapted = maml(torch.cat([xs[:, :6], xs[:, :6]], 1), y_l)  # query = the labelled instances themselves
    assert ((adapted - y_l) ** 2).mean() < 0.5 * start


def test_per_task_models_on_separable_data():
    rng = np.random.default_rng(0)
    centres = np.array([[3.0, 3, 3], [-3.0, -3, -3]])   # every attribute separates (RF draws few)
    yl, yu = np.array([0, 1, 0, 1]), np.repeat([0, 1], 10)
    xl, xu = centres[yl] + 0.3 * rng.normal(size=(4, 3)), centres[yu] + 0.3 * rng.normal(size=(20, 3))
    for name in B.METHODS["classification"]:
        if B.METHODS["classification"][name] == "per_task":
            assert np.mean(B.per_task_predict(name, "classification", xl, yl, xu, 0, 20) == yu) == 1.0, name
    with pytest.raises(ValueError, match="not a per-task"):
        B.per_task_predict("self_training", "regression", xl, yl.astype(float), xu, 0)


def test_label_spreading_regression_follows_the_clusters():
    """Two far-apart clusters with targets +1 / -1: each unlabelled instance takes its cluster's target."""
    rng = np.random.default_rng(1)
    xl = np.array([[4.0, 0], [-4.0, 0]]) + 0.1 * rng.normal(size=(2, 2))
    xu = np.concatenate([np.array([4.0, 0]) + 0.3 * rng.normal(size=(8, 2)),
                         np.array([-4.0, 0]) + 0.3 * rng.normal(size=(8, 2))])
    pred = B.per_task_predict("label_spreading", "regression", xl, np.array([1.0, -1.0]), xu, 0)
    np.testing.assert_allclose(pred, np.repeat([1.0, -1.0], 8), atol=1e-3)
