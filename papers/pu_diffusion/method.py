"""PU diffusion models (Takahashi et al., ICLR 2025, arXiv 2503.03789): DDPM + positive-unlabeled risk.

What is implemented (the paper's method as its official code takahashihiroshi/pudm defines it,
``models/losses.py`` and ``models/trainers.py``; the paper's full text could not be read offline, so
equations are named by what they are, not by number):

* DDPM forward process and schedules from ``diffusers`` (as the official code): ``DDPMScheduler`` with
  its defaults (linear betas 1e-4 .. 0.02, ``num_train_timesteps`` = 1000, fixed-small variance, x_0
  clipped to [-1, 1]); ``add_noise`` gives ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` (Ho et al., Eq. 4).
* Per-example denoising loss ``l(x) = || eps_theta(x_t, t) - eps ||^2`` summed over all pixels (the
  code's ``torch.norm(...)**2``); its expectation is the negative ELBO up to constants (Ho et al., Eq. 14).
* Sensitive (positive) loss ``l_P(x) = -log(1 - exp(-l(x)) + 1e-6)``: minimising it maximises the
  denoising loss (i.e. minimises the ELBO) of labelled sensitive data; the code adds 1e-6 inside the
  log, kept here.
* PU risk (code ``PUBaseLoss``): the normal-data ELBO written as the unlabelled minus beta x the
  sensitive one, so
  ``R = beta E_P[l_P] + | E_U[l] - beta E_P[l] |`` (absolute value, following absPU), or the
  non-negative variant which, like nnPU's gradient step, returns ``-(E_U[l] - beta E_P[l])`` when the
  negative-class risk is below zero and ``beta E_P[l_P] + (E_U[l] - beta E_P[l])`` otherwise. Batches
  mix labelled-sensitive (y=1) and unlabelled (y=0) examples, as in the code; expectations are the
  batch means over each group (counts clamped at 1).
* Baselines (code ``UnsupervisedLoss`` / ``SupervisedLoss``) are in ``baselines.py``.
* Samplers: diffusers' ``DDPMScheduler.step`` (ancestral, the paper's sampler with 1000 steps) and
  ``DDIMScheduler.step`` (eta = 0, 'leading' spacing, the official fine-tuning script's sampler with 50
  steps; the quick profile uses fewer, labelled), both built from the training scheduler's config and
  run on whole batches. ``model`` is any ``eps_theta(x_t, t)`` returning a tensor or a diffusers output
  with ``.sample`` (``UNet2DModel``).
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler

POSITIVE_EPS = 1e-6  # the constant inside the log of l_P in the official code


def make_scheduler(num_train_timesteps: int = 1000) -> DDPMScheduler:
    """The training noise schedule: diffusers' ``DDPMScheduler`` defaults (the official code's)."""
    if num_train_timesteps < 2:
        raise ValueError(f"num_train_timesteps must be >= 2, got {num_train_timesteps}")
    return DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_start=1e-4, beta_end=0.02,
                         beta_schedule="linear", variance_type="fixed_small", clip_sample=True,
                         prediction_type="epsilon")


def predict_noise(model, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """eps_theta(x_t, t) as a tensor (diffusers models return an output object with ``.sample``)."""
    out = model(x, t)
    return out.sample if hasattr(out, "sample") else out


def per_example_loss(model, scheduler: DDPMScheduler, x0: torch.Tensor, generator=None) -> torch.Tensor:
    """l(x) = ||eps_theta(x_t, t) - eps||^2 per example, t ~ U{0..T-1}, eps ~ N(0, I)."""
    T = scheduler.config.num_train_timesteps
    t = torch.randint(0, T, (x0.shape[0],), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    x_t = scheduler.add_noise(x0, noise, t)
    eps_hat = predict_noise(model, x_t, t)
    return ((eps_hat - noise) ** 2).flatten(1).sum(1)


def positive_loss(ell: torch.Tensor) -> torch.Tensor:
    """l_P = -log(1 - exp(-l) + 1e-6): small when the ELBO of a sensitive example is low (l large)."""
    return -torch.log(1 - torch.exp(-ell) + POSITIVE_EPS)


def pu_risk_terms(ell: torch.Tensor, y: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive risk beta E_P[l_P], negative-class risk E_U[l] - beta E_P[l]) from one mixed batch."""
    pos, unl = y, 1 - y
    n_pos, n_unl = pos.sum().clamp_min(1), unl.sum().clamp_min(1)
    positive_risk = torch.sum(beta * pos * positive_loss(ell) / n_pos)
    negative_risk = torch.sum((unl / n_unl - beta * pos / n_pos) * ell)   # normal-data loss from U and P only
    return positive_risk, negative_risk


def pu_risk(ell: torch.Tensor, y: torch.Tensor, beta: float, nonnegative: bool = False) -> torch.Tensor:
    """PU diffusion objective: absolute-value form, or the nnPU-style non-negative variant."""
    positive_risk, negative_risk = pu_risk_terms(ell, y, beta)
    if not nonnegative:
        return positive_risk + torch.abs(negative_risk)
    if negative_risk < 0:      # nnPU: step against the negative part only
        return -negative_risk
    return positive_risk + negative_risk


# --------------------------------------------------------------------------------------
# Samplers (diffusers' schedulers; one call denoises a whole batch).


@torch.no_grad()
def _denoise(model, sched, shape, generator, device, **step_kw) -> torch.Tensor:
    x = torch.randn(shape, generator=generator, device=device)
    for t in sched.timesteps:
        eps = predict_noise(model, x, torch.full((shape[0],), int(t), device=device, dtype=torch.long))
        x = sched.step(eps, t, x, generator=generator, **step_kw).prev_sample
    return x


def ddpm_sample(model, scheduler: DDPMScheduler, shape, generator=None, device="cpu",
                num_inference_steps: int | None = None) -> torch.Tensor:
    """Ancestral DDPM sampling (``DDPMScheduler.step``); all T steps unless ``num_inference_steps``."""
    T = scheduler.config.num_train_timesteps
    n = num_inference_steps or T
    if not 1 <= n <= T:
        raise ValueError(f"num_inference_steps must be in [1, {T}], got {n}")
    sched = DDPMScheduler.from_config(scheduler.config)
    sched.set_timesteps(n, device=device)
    return _denoise(model, sched, shape, generator, device)


def ddim_sample(model, scheduler: DDPMScheduler, shape, num_inference_steps: int = 50, generator=None,
                device="cpu") -> torch.Tensor:
    """Deterministic DDIM (eta = 0; Song et al. 2021, Eq. 12) with ``DDIMScheduler`` on the same betas."""
    T = scheduler.config.num_train_timesteps
    if not 1 <= num_inference_steps <= T:
        raise ValueError(f"num_inference_steps must be in [1, {T}], got {num_inference_steps}")
    sched = DDIMScheduler.from_config({k: v for k, v in scheduler.config.items() if k != "variance_type"})
    sched.set_timesteps(num_inference_steps, device=device)
    return _denoise(model, sched, shape, generator, device, eta=0.0)


def sample(model, scheduler: DDPMScheduler, shape, sampler: str = "ddpm", num_inference_steps: int = 0,
           generator=None, device="cpu") -> torch.Tensor:
    """Dispatch: 'ddpm' (paper; all T steps when num_inference_steps = 0) or 'ddim' (50 steps by default)."""
    if sampler == "ddpm":
        return ddpm_sample(model, scheduler, shape, generator, device, num_inference_steps or None)
    if sampler == "ddim":
        return ddim_sample(model, scheduler, shape, num_inference_steps or 50, generator, device)
    raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")


# --------------------------------------------------------------------------------------
# Metrics.


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) (Heusel et al. 2017), via scipy's sqrtm."""
    import numpy as np
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fid_from_features(f1, f2) -> float:
    import numpy as np

    return frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))
