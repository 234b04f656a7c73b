"""The method reaches the unique optimum of Eq. 1; the registry holds every method."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from papers._template import method as M
from papers._template.baselines import METHODS
from papers._template.config import Config
from papers._template.data import load_split


@pytest.fixture(scope="module")
def split():
    return load_split(0.1, 0.5, seed=0)


def test_gradient_vanishes_at_the_fit(split):
    x, y, _, _ = split
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    model = M.fit_softmax_regression(xt, yt, 10, l2=1e-2, tol=1e-8)
    loss = M.objective(model, xt, yt, 1e-2)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    # the stopping rule of L-BFGS (max |grad| <= tol), up to float64 rounding
    assert max(g.abs().max().item() for g in grads) <= 1e-8 + 1e-12


def test_matches_sklearn_on_the_same_objective(split):
    """Eq. 1 with l2 = 1/(C n) is sklearn's multinomial objective; the optimum is unique."""
    x, y, xte, _ = split
    l2 = 1e-2
    ours = M.fit_softmax_regression(torch.as_tensor(x), torch.as_tensor(y), 10, l2=l2, tol=1e-9)
    ref = LogisticRegression(C=1.0 / (l2 * len(y)), tol=1e-12, max_iter=10000).fit(x, y)
    w = ours.linear.weight.detach().numpy()
    np.testing.assert_allclose(w - w.mean(0), ref.coef_ - ref.coef_.mean(0), atol=1e-4)
    pred = M.predict(ours, torch.as_tensor(xte)).numpy()
    assert np.mean(pred == ref.predict(xte)) > 0.99


def test_registry_and_split(split):
    x, y, xte, yte = split
    assert set(METHODS) == {"softmax", "nearest_centroid"}
    assert len(y) == round(0.1 * 1797) and len(yte) == int(np.ceil(0.5 * 1797))     # sklearn rounds the test size up
    assert len(set(map(bytes, x.round(6))) & set(map(bytes, xte.round(6)))) < 5  # (digits has a few duplicate images)
    cfg = Config(method="nearest_centroid")
    acc = np.mean(METHODS["nearest_centroid"](x, y, cfg)(xte) == yte)
    assert 0.8 < acc < 1.0
