"""PU diffusion models (Takahashi et al., ICLR 2025, arXiv 2503.03789): DDPM + positive-unlabeled risk.

What is implemented (the paper's method as its official code takahashihiroshi/pudm defines it,
``models/losses.py`` and ``models/trainers.py``; the paper's full text could not be read offline, so
equations are named by what they are, not by number):

* DDPM forward process with diffusers' default ``DDPMScheduler`` schedule (linear betas 1e-4 .. 0.02,
  ``num_train_timesteps`` = 1000): ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` (Ho et al., Eq. 4).
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
* Samplers: DDPM ancestral sampling as diffusers' ``DDPMScheduler.step`` (fixed-small variance,
  x_0 prediction clipped to [-1, 1]), the paper's sampler with 1000 steps; and DDIM (eta = 0, same
  clipping) on an evenly strided subset of timesteps, an option used by the quick profile (labelled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

POSITIVE_EPS = 1e-6  # the constant inside the log of l_P in the official code


@dataclass
class NoiseSchedule:
    """DDPM linear schedule (diffusers ``DDPMScheduler`` defaults)."""

    betas: torch.Tensor

    @classmethod
    def linear(cls, num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        if num_train_timesteps < 2:
            raise ValueError(f"num_train_timesteps must be >= 2, got {num_train_timesteps}")
        return cls(torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64))

    @property
    def num_train_timesteps(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return torch.cumprod(self.alphas, dim=0)


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Forward noising in closed form: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Ho et al., Eq. 4)."""
    abar = schedule.alphas_cumprod.to(x0.device)[t].to(x0.dtype)
    shape = (-1,) + (1,) * (x0.dim() - 1)
    return abar.sqrt().view(shape) * x0 + (1 - abar).sqrt().view(shape) * noise


def per_example_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, generator=None) -> torch.Tensor:
    """l(x) = ||eps_theta(x_t, t) - eps||^2 per example, t ~ U{0..T-1}, eps ~ N(0, I)."""
    t = torch.randint(0, schedule.num_train_timesteps, (x0.shape[0],), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    x_t = q_sample(schedule, x0, t, noise)
    eps_hat = model(x_t, t)
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
# Samplers.


@torch.no_grad()
def ddpm_sample(model, schedule: NoiseSchedule, shape, generator=None, device="cpu",
                num_inference_steps: int | None = None, clip: bool = True) -> torch.Tensor:
    """Ancestral DDPM sampling as diffusers' DDPMScheduler.step (variance 'fixed_small', clipped x_0).

    ``num_inference_steps`` < T strides the timesteps (diffusers' 'leading' spacing); default T.
    """
    T = schedule.num_train_timesteps
    n = num_inference_steps or T
    if not 1 <= n <= T:
        raise ValueError(f"num_inference_steps must be in [1, {T}], got {n}")
    abar = schedule.alphas_cumprod.to(device)
    steps = (torch.arange(0, n) * (T // n)).flip(0).tolist()
    x = torch.randn(shape, generator=generator, device=device)
    for t in steps:
        prev_t = t - T // n
        ab_t = abar[t]
        ab_prev = abar[prev_t] if prev_t >= 0 else torch.tensor(1.0, dtype=abar.dtype, device=device)
        beta_t = 1 - ab_t / ab_prev
        eps = model(x, torch.full((shape[0],), t, device=device, dtype=torch.long))
        x0 = (x - (1 - ab_t).sqrt().float() * eps) / ab_t.sqrt().float()
        if clip:
            x0 = x0.clamp(-1, 1)
        coef_x0 = (ab_prev.sqrt() * beta_t / (1 - ab_t)).float()
        coef_xt = ((1 - beta_t).sqrt() * (1 - ab_prev) / (1 - ab_t)).float()
        mean = coef_x0 * x0 + coef_xt * x
        if t > 0:
            var = ((1 - ab_prev) / (1 - ab_t) * beta_t).clamp_min(1e-20).float()
            mean = mean + var.sqrt() * torch.randn(shape, generator=generator, device=device)
        x = mean
    return x


@torch.no_grad()
def ddim_sample(model, schedule: NoiseSchedule, shape, num_inference_steps: int = 50, generator=None,
                device="cpu", clip: bool = True) -> torch.Tensor:
    """Deterministic DDIM (eta = 0; Song et al. 2021, Eq. 12) on evenly strided timesteps; an option."""
    T = schedule.num_train_timesteps
    if not 1 <= num_inference_steps <= T:
        raise ValueError(f"num_inference_steps must be in [1, {T}], got {num_inference_steps}")
    abar = schedule.alphas_cumprod.to(device)
    step = T // num_inference_steps
    steps = (torch.arange(0, num_inference_steps) * step).flip(0).tolist()
    x = torch.randn(shape, generator=generator, device=device)
    for t in steps:
        prev_t = t - step
        ab_t = abar[t].float()
        ab_prev = abar[prev_t].float() if prev_t >= 0 else torch.tensor(1.0, device=device)
        eps = model(x, torch.full((shape[0],), t, device=device, dtype=torch.long))
        x0 = (x - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (x - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()
        x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
    return x


def sample(model, schedule: NoiseSchedule, shape, sampler: str = "ddpm", num_inference_steps: int = 0,
           generator=None, device="cpu") -> torch.Tensor:
    """Dispatch: 'ddpm' (paper; all T steps when num_inference_steps = 0) or 'ddim' (option)."""
    if sampler == "ddpm":
        return ddpm_sample(model, schedule, shape, generator, device, num_inference_steps or None)
    if sampler == "ddim":
        return ddim_sample(model, schedule, shape, num_inference_steps or 50, generator, device)
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


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding as diffusers' Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.nn.functional.pad(emb, (0, 1))
    return emb
