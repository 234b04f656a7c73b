"""Key properties of the baselines: Kuleshov's isotonic map, the recalibrated CDF, the deep ensemble's
mixture moments, MAML's inner loop, the CNP's permutation invariance, and the registry."""

import numpy as np
import pytest
import torch

from papers.gp_calib import baselines as B
from papers.gp_calib.config import METHODS, SMOKE, Config
from papers.gp_calib.models import ConditionalNeuralProcess, MetaMLP, batched_mlp, gaussian_head


def test_registry_holds_every_method_of_the_issue():
    assert set(B.METHODS) == set(METHODS) == {"proposed", "no_gmm", "dkt", "gp_isotonic", "maml", "cnp", "ensemble"}
    assert {m for m, v in B.METHODS.items() if v.meta_learned} == {"proposed", "no_gmm", "dkt", "maml", "cnp"}


def test_isotonic_map_is_kuleshovs_empirical_cdf_with_anchors():
    pit = np.array([0.9, 0.1, 0.5, 0.7])
    xt, yt = B.isotonic_map(pit)
    assert xt[0] == 0 and yt[0] == 0 and xt[-1] == 1 and yt[-1] == 1
    assert np.all(np.diff(yt) >= 0)
    # at the PIT values the map is the empirical CDF of the PIT values (already monotone: no pooling)
    np.testing.assert_allclose(np.interp(np.sort(pit), xt, yt), [0.25, 0.5, 0.75, 1.0])


def test_recalibrated_cdf_monotone_with_limits_and_finite_density():
    g = torch.Generator().manual_seed(0)
    grid = torch.linspace(-12, 12, 48001, dtype=torch.float64)
    mu = torch.randn(2, 1, generator=g, dtype=torch.float64).expand(2, len(grid))
    var = (torch.rand(2, 1, generator=g, dtype=torch.float64) + 0.5).expand(2, len(grid))
    maps = [B.isotonic_map(np.array([0.2, 0.3, 0.35, 0.99])), B.isotonic_map(np.array([0.5, 0.5, 0.5]))]
    pred = B.IsotonicPredictive(mu, var, maps, mix=0.01)
    y = grid.expand(2, -1)
    cdf = pred.cdf(y)
    assert (cdf.diff(dim=-1) >= -1e-15).all() and cdf[:, 0].max() < 1e-9 and cdf[:, -1].min() > 1 - 1e-9
    logp = pred.log_prob(y)
    assert torch.isfinite(logp[(y - mu).abs() < 8 * var.sqrt()]).all()   # no zero-density holes (mix > 0)
    # the density is the derivative of the CDF: it integrates to one (trapezoid error at the map's kinks
    # is below step x jump ~ 5e-4 x 3)
    torch.testing.assert_close(torch.trapezoid(logp.exp(), grid, dim=-1), torch.ones(2, dtype=torch.float64),
                               atol=2e-3, rtol=0)


def _tasks(t=3, n=6, q=4, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(t, n, d, generator=g, dtype=torch.float64)
    xq = torch.randn(t, q, d, generator=g, dtype=torch.float64)
    return xs, xs[..., 0] * 2 + 0.1 * torch.randn(t, n, generator=g, dtype=torch.float64), xq, xq[..., 0] * 2


def test_deep_ensemble_moments_and_fit():
    cfg = Config(ensemble_members=3, ensemble_steps=100, hidden=16)
    xs, ys, xq, yq = _tasks()
    pred = B.ensemble_predict(cfg, None, xs, ys, xq, seed=0)
    again = B.ensemble_predict(cfg, None, xs, ys, xq, seed=0)
    torch.testing.assert_close(pred.mean(), again.mean(), atol=0, rtol=0)   # seeded
    assert pred.scale.min() > 0 and pred.weight.shape[-1] == 1
    # trained on a near-linear support, the ensemble predicts the training targets well
    fit = B.ensemble_predict(cfg, None, xs, ys, xs, seed=0)
    assert (fit.mean() - ys).pow(2).mean() < 0.1 * ys.var()


def test_maml_inner_loop_lowers_the_support_nll():
    cfg = Config(maml_inner_steps=3, maml_inner_lr=0.05, hidden=16)
    xs, ys, _, _ = _tasks()
    torch.manual_seed(0)
    model = MetaMLP(3, 16, 2).double()

    def nll(params):
        mu, sd = gaussian_head(batched_mlp(params, xs))
        return -torch.distributions.Normal(mu, sd).log_prob(ys).mean()

    before = nll(model.task_params(3)).item()
    after = nll(B.maml_adapt(cfg, model, xs, ys, create_graph=False)).item()
    assert after < before


def test_cnp_is_permutation_invariant_in_the_context():
    torch.manual_seed(0)
    cnp = ConditionalNeuralProcess(3, 16, 8, 2).double()
    xs, ys, xq, _ = _tasks()
    perm = torch.randperm(xs.shape[1])
    mu, sd = cnp(xs, ys, xq)
    mu2, sd2 = cnp(xs[:, perm], ys[:, perm], xq)
    torch.testing.assert_close(mu, mu2)
    torch.testing.assert_close(sd, sd2)
    assert sd.min() >= 0.01


def test_gp_isotonic_runs_on_gpytorch_and_is_calibrated_in_limits():
    pytest.importorskip("gpytorch")
    cfg = Config(**{k: v for k, v in SMOKE.items() if k in ("gp_steps",)})
    xs, ys, xq, yq = _tasks()
    pred = B.gp_isotonic_predict(cfg, None, xs, ys, xq, seed=0)
    assert pred.cdf(torch.full_like(yq, -1e6)).max() < 1e-9 and pred.cdf(torch.full_like(yq, 1e6)).min() > 1 - 1e-9
    assert torch.isfinite(pred.log_prob(yq)).all()
