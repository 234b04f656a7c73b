"""The competitors, under the same protocol as the method (same tasks, same inputs, same metrics), and
the registry ``METHODS`` that run.py looks up.

- ``proposed``: method.py, calibrated deep-kernel GP meta-trained on the soft test ECE + beta NLL.
- ``no_gmm``: the ablation, the same model and objective with the GMM calibration switched off.
- ``dkt``: deep kernel transfer (Patacchiola et al., NeurIPS 2020): the same deep-kernel GP without
  calibration, meta-trained by maximising the GP marginal likelihood of each task's data; prediction
  is the GP posterior given the support.
- ``gp_isotonic``: a GP per task (gpytorch ExactGP, constant mean, scaled ARD-RBF kernel, Gaussian
  noise, hyperparameters by Adam on the marginal likelihood of the support) and the post-hoc isotonic
  recalibration of Kuleshov et al. (ICML 2018, Algorithm 1), fitted on the support's leave-one-out PIT
  values (ours: a few-shot task has no separate calibration set).
- ``maml``: MAML (Finn et al., ICML 2017) for regression with a Gaussian output (mean, std): inner SGD
  on the support NLL, outer Adam on the query NLL after adaptation (second order).
- ``cnp``: conditional neural process (Garnelo et al., ICML 2018), trained on the query NLL.
- ``ensemble``: a deep ensemble per task (Lakshminarayanan et al., NeurIPS 2017): M Gaussian-output
  MLPs from independent random initialisations, trained on the support NLL with fast-gradient-sign
  adversarial examples; the prediction is the Gaussian with the mixture's mean and variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from sklearn.isotonic import IsotonicRegression
from torch import Tensor

from papers.gp_calib import method as M
from papers.gp_calib.models import ConditionalNeuralProcess, MetaMLP, batched_mlp, gaussian_head, init_mlp_params

Batch = tuple[Tensor, Tensor, Tensor, Tensor]  # xs, ys, xq, yq


# --------------------------------------------------------------------------------------
# Deep-kernel GPs (proposed, ablation, DKT).


def build_dkgp(calibrate: bool):
    def build(cfg, in_dim: int):
        return M.CalibratedDeepKernelGP(in_dim, cfg.hidden, cfg.embed_dim, cfg.n_hidden, calibrate,
                                        cfg.init_bandwidth, cfg.init_base_weight)
    return build


def calibration_loss(cfg, model, batch: Batch) -> Tensor:
    xs, ys, xq, yq = batch
    return M.calibration_objective(model.predictive(xs, ys, xq), yq, cfg.beta, cfg.tau, cfg.accuracy_loss)


def dkt_loss(cfg, model, batch: Batch) -> Tensor:
    """DKT: negative log marginal likelihood of the whole task (support + query), per point."""
    xs, ys, xq, yq = batch
    return -model.log_marginal(torch.cat([xs, xq], -2), torch.cat([ys, yq], -1)).mean()


def dkgp_predict(cfg, model, xs, ys, xq, seed):
    return model.predictive(xs, ys, xq)


# --------------------------------------------------------------------------------------
# MAML with a Gaussian output.


def maml_adapt(cfg, model: MetaMLP, xs: Tensor, ys: Tensor, create_graph: bool) -> list[Tensor]:
    params = model.task_params(xs.shape[0])
    for _ in range(cfg.maml_inner_steps):
        mu, sd = gaussian_head(batched_mlp(params, xs))
        loss = -torch.distributions.Normal(mu, sd).log_prob(ys).mean(-1).sum()
        grads = torch.autograd.grad(loss, params, create_graph=create_graph)
        params = [p - cfg.maml_inner_lr * g for p, g in zip(params, grads)]
    return params


def maml_loss(cfg, model, batch: Batch) -> Tensor:
    xs, ys, xq, yq = batch
    mu, sd = gaussian_head(batched_mlp(maml_adapt(cfg, model, xs, ys, create_graph=True), xq))
    return -torch.distributions.Normal(mu, sd).log_prob(yq).mean()


def maml_predict(cfg, model, xs, ys, xq, seed):
    with torch.enable_grad():
        params = [p.detach() for p in maml_adapt(cfg, model, xs, ys, create_graph=False)]
    mu, sd = gaussian_head(batched_mlp(params, xq))
    return M.gaussian(mu, sd ** 2)


# --------------------------------------------------------------------------------------
# Conditional neural process.


def cnp_loss(cfg, model, batch: Batch) -> Tensor:
    xs, ys, xq, yq = batch
    mu, sd = model(xs, ys, xq)
    return -torch.distributions.Normal(mu, sd).log_prob(yq).mean()


def cnp_predict(cfg, model, xs, ys, xq, seed):
    mu, sd = model(xs, ys, xq)
    return M.gaussian(mu, sd ** 2)


# --------------------------------------------------------------------------------------
# Deep ensemble per task.


def ensemble_predict(cfg, model, xs, ys, xq, seed):
    """Train M networks per task on the support (all tasks and members at once, batched weights)."""
    t, n, d = xs.shape
    e = cfg.ensemble_members
    gen = torch.Generator().manual_seed(int(seed))
    widths = [d] + [cfg.hidden] * cfg.n_hidden + [2]
    params = [p.requires_grad_() for p in init_mlp_params(widths, (t * e,), gen, xs.dtype)]
    xs_e = xs.repeat_interleave(e, 0)
    ys_e = ys.repeat_interleave(e, 0)
    eps = cfg.ensemble_adv_eps * (xs.amax(-2, keepdim=True) - xs.amin(-2, keepdim=True)).repeat_interleave(e, 0)
    opt = torch.optim.Adam(params, lr=cfg.ensemble_lr)

    def nll(x):
        mu, sd = gaussian_head(batched_mlp(params, x))
        return -torch.distributions.Normal(mu, sd).log_prob(ys_e).mean(-1).sum()

    with torch.enable_grad():
        for _ in range(cfg.ensemble_steps):
            x = xs_e.clone().requires_grad_(cfg.ensemble_adv_eps > 0)
            loss = nll(x)
            if cfg.ensemble_adv_eps > 0:   # Lakshminarayanan et al. Sec. 2.3: NLL(x) + NLL(x + eps sign(grad_x))
                gx, = torch.autograd.grad(loss, x, retain_graph=True)
                loss = loss + nll((xs_e + eps * gx.sign()).detach())
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        mu, sd = gaussian_head(batched_mlp(params, xq.repeat_interleave(e, 0)))
        mu, var = mu.view(t, e, -1), (sd ** 2).view(t, e, -1)
        mean = mu.mean(1)
        return M.gaussian(mean, (var + mu ** 2).mean(1) - mean ** 2)


# --------------------------------------------------------------------------------------
# GP per task + isotonic recalibration (Kuleshov et al. 2018).


class IsotonicPredictive:
    """F(y) = R_mix(F_GP(y)), R_mix = (1 - mix) R + mix id with R the isotonic map of one task."""

    def __init__(self, mu: Tensor, var: Tensor, maps: list[tuple[np.ndarray, np.ndarray]], mix: float) -> None:
        self.base = M.gaussian(mu, var)
        self.mu, self.sd, self.maps, self.mix = mu, var.sqrt(), maps, mix

    def _apply(self, u: Tensor, slope: bool) -> Tensor:
        out = torch.empty_like(u)
        for i, (xt, yt) in enumerate(self.maps):
            ui = u[i].numpy()
            if slope:   # derivative of the piecewise-linear interpolant (right derivative at the knots)
                seg = np.clip(np.searchsorted(xt, ui, side="right") - 1, 0, len(xt) - 2)
                val = (yt[seg + 1] - yt[seg]) / np.maximum(xt[seg + 1] - xt[seg], 1e-12)
            else:
                val = np.interp(ui, xt, yt)
            out[i] = torch.as_tensor(val, dtype=u.dtype)
        return (1 - self.mix) * out + self.mix * (1.0 if slope else u)

    def cdf(self, y: Tensor) -> Tensor:
        return self._apply(self.base.cdf(y), slope=False)

    def log_prob(self, y: Tensor) -> Tensor:
        return self.base.log_prob(y) + torch.log(self._apply(self.base.cdf(y), slope=True))

    def mean(self) -> Tensor:
        return self.mu


def isotonic_map(pit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kuleshov et al. Algorithm 1 on PIT values p_n: fit R(p_n) ~ P_hat(p_n) = |{m : p_m <= p_n}| / N
    by isotonic regression; anchored at (0, 0) and (1, 1) (ours) so the recalibrated CDF has limits 0, 1.
    Returns the knots of the piecewise-linear map."""
    p = np.sort(np.asarray(pit, dtype=np.float64))
    phat = np.searchsorted(p, p, side="right") / len(p)
    xs, ys = np.concatenate([[0.0], p, [1.0]]), np.concatenate([[0.0], phat, [1.0]])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(xs, ys)
    xt, yt = iso.X_thresholds_, iso.y_thresholds_
    if len(xt) < 2:
        xt, yt = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    return xt, yt


def gp_isotonic_predict(cfg, model, xs, ys, xq, seed):
    import gpytorch

    t, n, d = xs.shape
    batch = torch.Size([t])

    class BatchGP(gpytorch.models.ExactGP):
        def __init__(self, lik):
            super().__init__(xs, ys, lik)
            self.mean_module = gpytorch.means.ConstantMean(batch_shape=batch)
            self.covar_module = gpytorch.kernels.ScaleKernel(
                gpytorch.kernels.RBFKernel(ard_num_dims=d, batch_shape=batch), batch_shape=batch)

        def forward(self, x):
            return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))

    torch.manual_seed(int(seed))
    lik = gpytorch.likelihoods.GaussianLikelihood(batch_shape=batch).to(xs.dtype)
    gp = BatchGP(lik).to(xs.dtype)
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, gp)
    opt = torch.optim.Adam(gp.parameters(), lr=cfg.gp_lr)
    gp.train()
    lik.train()
    with torch.enable_grad(), gpytorch.settings.fast_computations(False, False, False):
        for _ in range(cfg.gp_steps):
            opt.zero_grad()
            loss = -mll(gp(xs), ys).sum()
            loss.backward()
            opt.step()
    gp.eval()
    lik.eval()
    with torch.no_grad(), gpytorch.settings.fast_computations(False, False, False):
        pred = lik(gp(xq))
        mu, var = pred.mean, pred.variance
        k = gp.covar_module(xs).to_dense() + lik.noise.view(t, 1, 1) * torch.eye(n, dtype=xs.dtype)
        kinv = torch.linalg.inv(k)
        resid = (kinv @ (ys - gp.mean_module.constant.view(t, 1)).unsqueeze(-1)).squeeze(-1)
        pit = M.normal_cdf(resid / kinv.diagonal(dim1=-2, dim2=-1).sqrt())    # leave-one-out PIT values
    maps = [isotonic_map(pit[i].numpy()) for i in range(t)]
    return IsotonicPredictive(mu, var, maps, cfg.isotonic_mix)


# --------------------------------------------------------------------------------------
# Registry.


@dataclass(frozen=True)
class Method:
    predict: Callable
    build: Callable | None = None       # meta-learned methods: build(cfg, in_dim) -> nn.Module
    loss: Callable | None = None        # meta-training loss(cfg, model, batch) on one task batch

    @property
    def meta_learned(self) -> bool:
        return self.build is not None


METHODS: dict[str, Method] = {
    "proposed": Method(dkgp_predict, build_dkgp(True), calibration_loss),
    "no_gmm": Method(dkgp_predict, build_dkgp(False), calibration_loss),
    "dkt": Method(dkgp_predict, build_dkgp(False), dkt_loss),
    "maml": Method(maml_predict, lambda cfg, d: MetaMLP(d, cfg.hidden, cfg.n_hidden), maml_loss),
    "cnp": Method(cnp_predict, lambda cfg, d: ConditionalNeuralProcess(d, cfg.hidden, cfg.cnp_r_dim, cfg.n_hidden),
                  cnp_loss),
    "ensemble": Method(ensemble_predict),
    "gp_isotonic": Method(gp_isotonic_predict),
}
