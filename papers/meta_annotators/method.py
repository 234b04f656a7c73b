"""The paper's contribution: a task-specific classifier learned from multiple noisy annotators in a
meta-learned latent space, adapted by MAP-EM whose every step is closed form and differentiable.

A task has M support instances x_m, N classes and J annotators; a_mjl = 1 when annotator j gave
label l to instance m (most entries are 0: not every annotator labels every instance). With an
encoder f shared by all tasks, z_m = f(x_m) in R^d, the generative model of a task is

    y_m ~ Cat(pi),   z_m | y_m = c ~ N(mu_c, s2 I),   label of annotator j | y_m = c ~ Cat(Theta_j[c, :])   (Eq. 1)

one Gaussian per class with a shared isotropic variance s2, and a K x K confusion matrix Theta_j per
annotator, independent of the input. Priors (MAP):

    Theta_j[c, :] ~ Dir(alpha_c),  alpha_c = alpha_off 1 + (alpha_diag - alpha_off) e_c               (Eq. 2)
    s2 ~ InvGamma(a0, b0);  flat priors on pi and mu

EM for the MAP estimate (``em``), started from soft majority-vote responsibilities r_mc:

    M-step  pi_c = N_c / M,  N_c = sum_m r_mc;   mu_c = sum_m r_mc z_m / N_c                           (Eq. 3)
            s2 = (sum_mc r_mc ||z_m - mu_c||^2 + 2 b0) / (M d + 2 a0 + 2)
            Theta_j[c, l] = (sum_m r_mc a_mjl + alpha_cl - 1) / (sum_m r_mc sum_l a_mjl + sum_l (alpha_cl - 1))
    E-step  r_mc propto pi_c N(z_m; mu_c, s2 I) prod_{j,l} Theta_j[c, l]^{a_mjl}                       (Eq. 4)

The classifier of the task is the posterior of the class given the embedding alone,
p(y = c | x) propto pi_c N(f(x); mu_c, s2 I) (Eq. 5): queries come without annotations. Meta-training
minimises the cross-entropy of Eq. 5 on the clean query labels of source tasks after ``n_steps``
unrolled EM iterations on the support (``query_loss``), back-propagated through every step into f
and the prior concentrations (alpha_diag, alpha_off), which are meta-learned too.

Ablation (``gaussian_fit`` on soft majority-vote responsibilities): the same Gaussian classifier
without annotator modelling (every label counts the same, no EM).

Reconstructed (ours; the paper's method section could not be read): the inverse-gamma prior on s2
(it keeps every M-step exact and s2 > 0), ML class weights, the two-parameter Dirichlet prior and
meta-learning it, the soft majority-vote initialisation, the number of EM steps. Pure functions of
tensors, batched over tasks (leading dimension T); no file I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-12


@dataclass
class EMState:
    """Parameters of Eq. 1 for a batch of tasks: pi (T, N), mu (T, N, d), s2 (T,), theta (T, J, N, N)
    (theta[t, j, c, l] = p(label l | class c) for annotator j), and the responsibilities r (T, M, N)."""
    pi: Tensor
    mu: Tensor
    s2: Tensor
    theta: Tensor | None
    r: Tensor


def one_hot_annotations(labels: Tensor, n_classes: int) -> Tensor:
    """(T, M, J) integer labels with -1 = missing -> (T, M, J, N) one-hot floats (zeros where missing)."""
    valid = labels >= 0
    oh = F.one_hot(labels.clamp(min=0), n_classes).to(torch.get_default_dtype())
    return oh * valid.unsqueeze(-1)


def soft_majority_vote(ann: Tensor, smooth: float = 1e-3) -> Tensor:
    """Responsibilities proportional to the vote counts (+ ``smooth``), (T, M, J, N) -> (T, M, N);
    an instance without any label gets the uniform distribution."""
    votes = ann.sum(-2) + smooth
    return votes / votes.sum(-1, keepdim=True)


def dirichlet_concentration(n_classes: int, alpha_diag: Tensor | float, alpha_off: Tensor | float,
                            dtype=None, device=None) -> Tensor:
    """alpha (N, N) of Eq. 2: alpha_diag on the diagonal (correct labels), alpha_off elsewhere."""
    eye = torch.eye(n_classes, dtype=dtype, device=device)
    a_d = torch.as_tensor(alpha_diag, dtype=dtype, device=device)
    a_o = torch.as_tensor(alpha_off, dtype=dtype, device=device)
    return a_o + (a_d - a_o) * eye


def gaussian_fit(z: Tensor, r: Tensor, a0: float, b0: float) -> tuple[Tensor, Tensor, Tensor]:
    """Gaussian part of the M-step (Eq. 3): (pi (T, N), mu (T, N, d), s2 (T,)) from z (T, M, d), r (T, M, N)."""
    nk = r.sum(-2)                                                      # (T, N)
    pi = nk / nk.sum(-1, keepdim=True)
    mu = r.transpose(-1, -2) @ z / (nk.unsqueeze(-1) + EPS)
    sq = _sq_dist(z, mu)                                                # (T, M, N)
    m, d = z.shape[-2], z.shape[-1]
    s2 = ((r * sq).sum((-1, -2)) + 2.0 * b0) / (m * d + 2.0 * a0 + 2.0)
    return pi, mu, s2


def confusion_fit(ann: Tensor, r: Tensor, alpha: Tensor) -> Tensor:
    """Annotator part of the M-step (Eq. 3): Dirichlet-MAP confusion matrices (T, J, N, N)."""
    counts = torch.einsum("tmc,tmjl->tjcl", r, ann)                     # expected (class c, label l) counts
    num = counts + (alpha - 1.0)
    return num / num.sum(-1, keepdim=True)


def _sq_dist(z: Tensor, mu: Tensor) -> Tensor:
    """||z_m - mu_c||^2, (T, M, d) x (T, N, d) -> (T, M, N)."""
    return (z.pow(2).sum(-1, keepdim=True) - 2.0 * z @ mu.transpose(-1, -2) + mu.pow(2).sum(-1).unsqueeze(-2)).clamp(min=0)


def gaussian_log_joint(z: Tensor, pi: Tensor, mu: Tensor, s2: Tensor) -> Tensor:
    """log pi_c + log N(z_m; mu_c, s2 I), (T, M, N)."""
    d = z.shape[-1]
    s2 = s2[..., None, None]
    return (torch.log(pi + EPS).unsqueeze(-2) - 0.5 * _sq_dist(z, mu) / s2
            - 0.5 * d * torch.log(2 * math.pi * s2))


def e_step_logits(z: Tensor, ann: Tensor, pi: Tensor, mu: Tensor, s2: Tensor, theta: Tensor | None) -> Tensor:
    """log [pi_c N(z_m; mu_c, s2 I) prod_j Theta_j[c, l_mj]] (T, M, N): the unnormalised log of Eq. 4."""
    out = gaussian_log_joint(z, pi, mu, s2)
    if theta is not None:
        out = out + torch.einsum("tmjl,tjcl->tmc", ann, torch.log(theta + EPS))
    return out


def em(z: Tensor, ann: Tensor, n_steps: int, alpha: Tensor, a0: float, b0: float,
       fixed_theta: Tensor | None = None, r0: Tensor | None = None) -> EMState:
    """MAP-EM of Eq. 1-4 for z (T, M, d) and one-hot annotations ann (T, M, J, N): ``n_steps`` (M-step,
    E-step) pairs after the soft majority-vote start, then a last M-step. Differentiable in z and alpha.
    ``fixed_theta`` (J, N, N or T, J, N, N) keeps the confusion matrices fixed (only the Gaussian part is fitted)."""
    r = soft_majority_vote(ann) if r0 is None else r0
    for step in range(n_steps + 1):
        pi, mu, s2 = gaussian_fit(z, r, a0, b0)
        theta = confusion_fit(ann, r, alpha) if fixed_theta is None else fixed_theta.expand(
            z.shape[0], *fixed_theta.shape[-3:])
        if step == n_steps:
            break
        r = torch.softmax(e_step_logits(z, ann, pi, mu, s2, theta), dim=-1)
    return EMState(pi, mu, s2, theta, r)


def log_posterior(z: Tensor, ann: Tensor, pi: Tensor, mu: Tensor, s2: Tensor, theta: Tensor, alpha: Tensor,
                  a0: float, b0: float) -> Tensor:
    """The MAP objective EM increases, per task (T,): log p(Z, A | params) + log p(Theta) + log p(s2)
    (up to constants), the labels y marginalised."""
    lik = torch.logsumexp(e_step_logits(z, ann, pi, mu, s2, theta), dim=-1).sum(-1)
    prior_theta = ((alpha - 1.0) * torch.log(theta + EPS)).sum((-1, -2, -3))
    prior_s2 = -(a0 + 1.0) * torch.log(s2) - b0 / s2
    return lik + prior_theta + prior_s2


def query_logits(zq: Tensor, state: EMState) -> Tensor:
    """log p(y = c | x_q) up to a constant (Eq. 5), zq (T, Q, d) -> (T, Q, N)."""
    return gaussian_log_joint(zq, state.pi, state.mu, state.s2)


def query_loss(zq: Tensor, yq: Tensor, state: EMState) -> Tensor:
    """Meta-training loss: cross-entropy of the adapted classifier on clean query labels yq (T, Q)."""
    logits = query_logits(zq, state)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yq.reshape(-1))


def confusion_tv_error(theta_hat: Tensor, theta_true: Tensor, row_mask: Tensor | None = None) -> Tensor:
    """Mean total-variation distance 0.5 ||Theta_hat[j, c] - Theta[j, c]||_1 over annotators and classes
    (rows where ``row_mask`` (J, N) is 0 are skipped, e.g. classes an annotator never saw)."""
    tv = 0.5 * (theta_hat - theta_true).abs().sum(-1)
    if row_mask is None:
        return tv.mean()
    return (tv * row_mask).sum() / row_mask.sum().clamp(min=1)
