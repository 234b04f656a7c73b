"""The proposed method of Kumagai, Iwata & Fujiwara, "Meta-learning for Positive-unlabeled
Classification" (arXiv 2406.03680, 2024).

A PU task gives positives P ~ p_P and unlabelled U ~ p = pi p_P + (1 - pi) p_N. The Bayes-optimal
classifier (0-1 risk) is

    f*(x) = sign(p(y=+1 | x) - 1/2),   p(y=+1 | x) = pi p_P(x) / p(x) = pi r(x)              (Bayes rule)

so adaptation is estimation of the PU density ratio r = p_P / p (and of pi when unknown):

1. Task representation (permutation invariant, Deep Sets): z = [g_P(P), g_U(U)].
2. Task-specific instance embedding h(x) = f([x, z]) in R^K.
3. Linear ratio r(x) = w^T h(x), fitted to the embedded P and U by least-squares density-ratio
   fitting (uLSIF form)  J(w) = 1/2 mean_U (w^T h)^2 - mean_P w^T h + lambda/2 ||w||^2, whose global
   optimum is the closed form  w = (H_U + lambda I)^-1 hbar_P, H_U = mean_U h h^T, hbar_P = mean_P h
   (``common.meta.closed_form.relative_density_ratio_closed_form`` with alpha = 0).
4. Classifier: positive iff pi r(x) >= 1/2.
5. Meta-training: f, g_P, g_U and lambda minimise the expected *test classification risk after
   adaptation*, measured on labelled query instances of meta-training tasks, by back-propagation
   through the closed form.
6. Unknown prior: since p >= pi p_P, r <= 1/pi with equality where p_N vanishes, so
   pi_hat = 1 / max_{x in P u U} r(x) (the classical PU prior bound, Blanchard et al. 2010; du Plessis
   & Sugiyama 2014), clipped to [prior_min, prior_max], replaces pi in step 4.

Reconstructed choices (only the abstract and the introduction could be read; README "ours: ..."):
the smooth surrogate of the 0-1 risk in step 5 is the sigmoid loss sigma(-y kappa (pi r(x) - 1/2))
with kappa = ``risk_scale``; the encoders are Deep Sets with mean pooling, one per set; lambda is
meta-learned through a softplus; the prior estimator of step 6 is the max-ratio bound.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from common.meta.closed_form import relative_density_ratio_closed_form
from common.meta.encoders import DeepSetEncoder, mlp


def pu_ratio_weights(h_pos: Tensor, h_unl: Tensor, lam: Tensor | float) -> Tensor:
    """Step 3: the closed-form minimiser w (..., K) of 1/2 mean_U (w^T h)^2 - mean_P w^T h + lam/2 ||w||^2."""
    return relative_density_ratio_closed_form(h_pos, h_unl, 0.0, lam)


def ulsif_objective(w: Tensor, h_pos: Tensor, h_unl: Tensor, lam: float) -> Tensor:
    """J(w) of step 3 (for tests: the closed form is its minimiser)."""
    r_u, r_p = (h_unl * w.unsqueeze(-2)).sum(-1), (h_pos * w.unsqueeze(-2)).sum(-1)
    return 0.5 * (r_u ** 2).mean(-1) - r_p.mean(-1) + 0.5 * lam * (w ** 2).sum(-1)


def prior_from_ratio(r_all: Tensor, prior_min: float = 0.05, prior_max: float = 0.95) -> Tensor:
    """Step 6: pi_hat = 1 / max r over the task's instances (..., N) -> (...,), clipped."""
    return (1.0 / r_all.max(-1).values.clamp_min(1.0)).clamp(prior_min, prior_max)


def sigmoid_risk(score: Tensor, y: Tensor) -> Tensor:
    """Mean sigmoid loss sigma(-y' score) over the last dim, y in {0, 1} -> y' in {-1, +1}."""
    sign = 2.0 * y.to(score.dtype) - 1.0
    return torch.sigmoid(-sign * score).mean(-1)


class MetaPU(nn.Module):
    """Task-specific embeddings + closed-form PU density ratio + Bayes rule (module docstring)."""

    def __init__(self, in_dim: int, hidden: int = 64, embed_dim: int = 32, set_dim: int = 32, n_hidden: int = 2,
                 init_lambda: float = 0.1, risk_scale: float = 10.0) -> None:
        super().__init__()
        self.enc_pos = DeepSetEncoder(in_dim, hidden, set_dim, n_hidden)
        self.enc_unl = DeepSetEncoder(in_dim, hidden, set_dim, n_hidden)
        self.embed = mlp(in_dim + 2 * set_dim, hidden, embed_dim, n_hidden)
        self.raw_lambda = nn.Parameter(torch.tensor(math.log(math.expm1(init_lambda))))
        self.risk_scale = float(risk_scale)

    @property
    def lam(self) -> Tensor:
        return F.softplus(self.raw_lambda)

    def embeddings(self, x: Tensor, z: Tensor) -> Tensor:
        """h(x) (T, M, K) for points x (T, M, D) and task codes z (T, 2 set_dim)."""
        return self.embed(torch.cat([x, z.unsqueeze(-2).expand(*x.shape[:-1], z.shape[-1])], -1))

    def adapt(self, x_pos: Tensor, x_unl: Tensor) -> tuple[Tensor, Tensor]:
        """Steps 1-3 for a batch of tasks: task codes z and closed-form weights w (T, K)."""
        z = torch.cat([self.enc_pos(x_pos), self.enc_unl(x_unl)], -1)
        w = pu_ratio_weights(self.embeddings(x_pos, z), self.embeddings(x_unl, z), self.lam)
        return z, w

    def ratio(self, x: Tensor, z: Tensor, w: Tensor) -> Tensor:
        """r(x) = w^T h(x), (T, M)."""
        return (self.embeddings(x, z) * w.unsqueeze(-2)).sum(-1)

    def estimate_prior(self, x_pos: Tensor, x_unl: Tensor, z: Tensor, w: Tensor, prior_min: float = 0.05,
                       prior_max: float = 0.95) -> Tensor:
        """Step 6 on the task's own instances P u U, (T,)."""
        return prior_from_ratio(self.ratio(torch.cat([x_pos, x_unl], -2), z, w), prior_min, prior_max)

    def scores(self, x_pos: Tensor, x_unl: Tensor, x: Tensor, prior: Tensor | None,
               prior_min: float = 0.05, prior_max: float = 0.95) -> tuple[Tensor, Tensor]:
        """(pi r(x) - 1/2 at points x (T, M), prior used (T,)); ``prior=None`` estimates it (step 6)."""
        z, w = self.adapt(x_pos, x_unl)
        if prior is None:
            prior = self.estimate_prior(x_pos, x_unl, z, w, prior_min, prior_max)
        return prior.unsqueeze(-1) * self.ratio(x, z, w) - 0.5, prior

    def meta_loss(self, x_pos: Tensor, x_unl: Tensor, x_query: Tensor, y_query: Tensor, prior: Tensor | None) -> Tensor:
        """Step 5: test classification risk (sigmoid surrogate) after adaptation, mean over tasks."""
        s, _ = self.scores(x_pos, x_unl, x_query, prior)
        return sigmoid_risk(self.risk_scale * s, y_query).mean()
