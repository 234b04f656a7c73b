"""method.py against known answers: gpytorch's exact GP, brute-force leave-one-out, the calibrated CDF's
properties, and gradients of the ECE surrogate (gradcheck)."""

import math

import pytest
import torch

from papers.gp_calib import method as M


def _data(seed=0, t=3, n=7, q=5, e=4):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(t, n, e, generator=g, dtype=torch.float64), torch.randn(t, n, generator=g, dtype=torch.float64),
            torch.randn(t, q, e, generator=g, dtype=torch.float64))


HYPER = dict(lengthscale=torch.tensor(1.3, dtype=torch.float64), outputscale=torch.tensor(0.8, dtype=torch.float64),
             noise=torch.tensor(0.05, dtype=torch.float64), mean=torch.tensor(0.3, dtype=torch.float64))


def _exact_gp(gpytorch, x, y, lik):
    class GP(gpytorch.models.ExactGP):
        def __init__(self):
            super().__init__(x, y, lik)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())

        def forward(self, z):
            return gpytorch.distributions.MultivariateNormal(self.mean_module(z), self.covar_module(z))

    return GP()


def test_gp_posterior_equals_gpytorch_exact_gp():
    gpytorch = pytest.importorskip("gpytorch")
    zs, ys, zq = _data()
    ours = M.gp_posterior(zs, ys, zq, **HYPER)
    lml = M.gp_log_marginal(zs, ys, **HYPER)
    for i in range(zs.shape[0]):
        lik = gpytorch.likelihoods.GaussianLikelihood().double()
        lik.noise = HYPER["noise"] + M.JITTER   # our K adds the jitter to the noise

        gp = _exact_gp(gpytorch, zs[i], ys[i], lik).double()
        gp.mean_module.constant = HYPER["mean"]
        gp.covar_module.outputscale = HYPER["outputscale"]
        gp.covar_module.base_kernel.lengthscale = HYPER["lengthscale"]
        with torch.no_grad(), gpytorch.settings.fast_computations(False, False, False):
            gp.train()
            lik.train()
            ref_lml = gpytorch.mlls.ExactMarginalLogLikelihood(lik, gp)(gp(zs[i]), ys[i])
            gp.eval()
            lik.eval()
            pred = lik(gp(zq[i]))
        # exact Cholesky solves on both sides: agreement to float64 rounding of a condition-number-~1e2 system
        torch.testing.assert_close(ours.mu[i], pred.mean, atol=1e-9, rtol=1e-9)
        torch.testing.assert_close(ours.var[i], pred.variance, atol=1e-9, rtol=1e-9)
        torch.testing.assert_close(lml[i], ref_lml, atol=1e-9, rtol=1e-9)


def test_leave_one_out_residuals_equal_refits():
    zs, ys, _ = _data(1)
    post = M.gp_posterior(zs, ys, zs[:, :1], **HYPER)
    n = zs.shape[1]
    for j in range(n):
        keep = [k for k in range(n) if k != j]
        loo = M.gp_posterior(zs[:, keep], ys[:, keep], zs[:, j:j + 1], **HYPER)
        want = (ys[:, j] - loo.mu[:, 0]) / loo.var[:, 0].sqrt()
        torch.testing.assert_close(post.loo_resid[:, j], want, atol=1e-9, rtol=1e-9)


def _model(calibrate, seed=0):
    torch.manual_seed(seed)
    return M.CalibratedDeepKernelGP(4, 16, 3, 2, calibrate, init_bandwidth=0.4, init_base_weight=0.3).double()


def test_calibrated_cdf_monotone_limits_and_gmm_form():
    xs, ys, xq = _data(2)
    model = _model(True)
    with torch.no_grad():
        pred = model.predictive(xs, ys, xq)
        post = model.posterior(xs, ys, xq)
        grid = torch.linspace(-60, 60, 4001, dtype=torch.float64).view(-1, 1, 1)
        cdf = pred.cdf(grid.expand(-1, *post.mu.shape))
        assert (cdf.diff(dim=0) >= 0).all()
        assert cdf[0].max() < 1e-12 and cdf[-1].min() > 1 - 1e-12
        # F = G(Phi^-1(F_GP(y))): the GMM's CDF applied to the GP's probit
        y = torch.randn(post.mu.shape, dtype=torch.float64)
        f_gp = M.normal_cdf((y - post.mu) / post.var.sqrt())
        w, m, s = M.gmm_components(post.loo_resid, torch.nn.functional.softplus(model.raw_bandwidth) + 1e-3,
                                   torch.sigmoid(model.base_logit))
        want = M.gmm_cdf(math.sqrt(2) * torch.erfinv(2 * f_gp - 1), w, m, s)
        torch.testing.assert_close(pred.cdf(y), want, atol=1e-10, rtol=1e-10)
        # density of the mixture integrates to one (trapezoid on the wide grid)
        dens = pred.log_prob(grid.expand(-1, *post.mu.shape)).exp()
        torch.testing.assert_close(torch.trapezoid(dens, grid.view(-1), dim=0), torch.ones_like(post.mu), atol=1e-6,
                                   rtol=0)


def test_calibration_off_gives_the_gp_cdf():
    xs, ys, xq = _data(3)
    on, off = _model(True), _model(False)
    off.load_state_dict(on.state_dict())
    y = torch.randn(3, 5, dtype=torch.float64)
    with torch.no_grad():
        post = on.posterior(xs, ys, xq)
        gp_cdf = M.normal_cdf((y - post.mu) / post.var.sqrt())
        torch.testing.assert_close(off.predictive(xs, ys, xq).cdf(y), gp_cdf, atol=0, rtol=0)
        on.base_logit.fill_(60.0)   # all weight on the base component: the identity map
        torch.testing.assert_close(on.predictive(xs, ys, xq).cdf(y), gp_cdf, atol=1e-12, rtol=0)
        assert not torch.allclose(_model(True).predictive(xs, ys, xq).cdf(y), gp_cdf, atol=1e-3)


def test_ece_known_values_and_surrogate_limit():
    levels = M.LEVELS
    # PIT values spread evenly: below each level p lies exactly a fraction p of them -> ECE 0
    u = torch.tensor([[0.025 + 0.05 * i for i in range(20)]], dtype=torch.float64)
    assert M.ece(u).item() == pytest.approx(0.0, abs=1e-12)
    # all PITs at 0.99 (under-predicted targets): coverage 0 at every level -> ECE = mean level = 0.5
    assert M.ece(torch.full((1, 10), 0.99, dtype=torch.float64)).item() == pytest.approx(sum(levels) / len(levels))
    g = torch.Generator().manual_seed(0)
    v = torch.rand(4, 30, generator=g, dtype=torch.float64)
    torch.testing.assert_close(M.soft_ece(v, 1e-6), M.ece(v), atol=1e-9, rtol=0)


def test_ece_surrogate_gradcheck():
    g = torch.Generator().manual_seed(1)
    u = torch.rand(2, 12, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: M.soft_ece(v, 0.05), (u,))
    # end to end: the objective is differentiable in the GP inputs, targets and the GMM parameters
    xs, ys, xq = _data(4, t=2, n=4, q=3, e=2)
    yq = torch.randn(2, 3, dtype=torch.float64)
    bw = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    w0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    xq.requires_grad_()

    def objective(xq_, yq_, bw_, w0_):
        post = M.gp_posterior(xs, ys, xq_, **HYPER)
        return M.calibration_objective(M.calibrated_predictive(post, bw_, w0_), yq_, beta=0.1, tau=0.05)

    assert torch.autograd.gradcheck(objective, (xq, yq.requires_grad_(), bw, w0))
