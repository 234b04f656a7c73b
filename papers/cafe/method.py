"""CAFe: Covariance-Aware Feature alignment (Adachi, Yamaguchi, Kumagai, ICIP 2023; arXiv 2204.13263).

What is implemented (only the abstract and a third-party reading note could be read, see README
"What we could read of the paper"; no equation numbers could be checked):

1. **Pre-computed source statistics** (done once, before deployment, on the source training set):
   mean ``mu_s`` and covariance ``Sigma_s`` of the feature ``f(x)`` that enters the linear classifier.
   After this step the source data are never touched again: the adapter only sees these tensors.
2. **Feature grouping**: the ``d`` feature dimensions are split into ``k`` groups by spectral
   clustering on the source correlation matrix (affinity ``|corr_s|``), so that strongly correlated
   dimensions share a group and each group is small compared with the test batch; the per-group
   target covariance is then not rank-deficient (with ``d >= batch size`` the full one is).
3. **Test-time loss** on each test mini-batch, minimised online w.r.t. the BatchNorm affine parameters
   (BN uses the test batch's statistics, as in Tent):
   ``L = L_ent - L_div + lambda * L_align`` with the information-maximisation terms of SHOT
   ``L_ent = mean_i H(p_i)``, ``L_div = H(mean_i p_i)`` and
   ``L_align = sum_g JS( N(mu_s^g, Sigma_s^g) , N(mu_t^g, Sigma_t^g) )`` (summed over groups, as the
   reading note says). Predictions are the outputs of the forward pass used for the update (Tent's
   online protocol).

**The Jensen-Shannon divergence between two Gaussians** has no closed form (the mixture
``M = (P+Q)/2`` is not Gaussian). We use (``gaussian_js_moment_matched``) the usual approximation that
replaces ``M`` by its moment-matched Gaussian ``M~ = N(mu_m, Sigma_m)``, ``mu_m = (mu_P+mu_Q)/2``,
``Sigma_m = (Sigma_P+Sigma_Q)/2 + (mu_P-mu_Q)(mu_P-mu_Q)^T/4``, and keeps JS's two directions:
``JS~ = KL(P||M~)/2 + KL(Q||M~)/2``. Its trace and Mahalanobis terms cancel exactly, leaving
``JS~ = 1/2 log det Sigma_m - 1/4 (log det Sigma_P + log det Sigma_Q)``.
Properties (tested): ``JS~ = JS + KL(M || M~) >= JS`` (log M~ is quadratic, so ``E_M log M~ =
E_M~ log M~``, and the Gaussian has the largest entropy for a covariance), ``JS~ = 0`` iff ``P = Q``,
and ``JS~ / JS -> 1`` as ``Q -> P`` (``M - M~`` is second order in the difference). Unlike JS it is
not bounded by ``log 2``. Whether the paper uses this or another approximation could not be read.

Ablation: ``divergence="sym_kl"`` (the symmetric KL, our earlier reconstruction) and the one-sided KLs.

Deviations / unverified choices (README lists them): the JS approximation, the weight ``lambda``, the
covariance ridge ``eps`` and the aligned layer (the penultimate feature only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

# ------------------------------------------------------------------ Gaussian divergences

def gaussian_kl(mu0: torch.Tensor, cov0: torch.Tensor, mu1: torch.Tensor, cov1: torch.Tensor) -> torch.Tensor:
    """KL( N(mu0, cov0) || N(mu1, cov1) ) in closed form, via Cholesky factors.

    0.5 * [ tr(S1^-1 S0) + (m1-m0)^T S1^-1 (m1-m0) - d + log det S1 - log det S0 ].
    """
    d = mu0.shape[-1]
    l0 = torch.linalg.cholesky(cov0)
    l1 = torch.linalg.cholesky(cov1)
    m = torch.linalg.solve_triangular(l1, l0, upper=False)          # L1^-1 L0 -> tr term = ||.||_F^2
    diff = torch.linalg.solve_triangular(l1, (mu1 - mu0).unsqueeze(-1), upper=False).squeeze(-1)
    logdet = 2 * (torch.log(torch.diagonal(l1, dim1=-2, dim2=-1)).sum(-1)
                  - torch.log(torch.diagonal(l0, dim1=-2, dim2=-1)).sum(-1))
    return 0.5 * ((m ** 2).sum((-2, -1)) + (diff ** 2).sum(-1) - d + logdet)


def gaussian_symmetric_kl(mu0, cov0, mu1, cov1) -> torch.Tensor:
    """0.5 * [KL(N0||N1) + KL(N1||N0)] = 0.25 [tr(S1^-1 S0) + tr(S0^-1 S1) + dm^T (S0^-1 + S1^-1) dm] - d/2."""
    d = mu0.shape[-1]
    dm = (mu1 - mu0).unsqueeze(-1)
    a = torch.linalg.solve(cov1, torch.cat([cov0, dm], -1))
    b = torch.linalg.solve(cov0, torch.cat([cov1, dm], -1))
    tr = torch.diagonal(a[..., :d], dim1=-2, dim2=-1).sum(-1) + torch.diagonal(b[..., :d], dim1=-2, dim2=-1).sum(-1)
    maha = (dm * a[..., d:]).sum((-2, -1)) + (dm * b[..., d:]).sum((-2, -1))
    return 0.25 * (tr + maha) - 0.5 * d


def moment_matched_mixture(mu0, cov0, mu1, cov1) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the equal-weight mixture (N0 + N1) / 2, i.e. of its moment-matched Gaussian."""
    dm = (mu0 - mu1).unsqueeze(-1)
    return 0.5 * (mu0 + mu1), 0.5 * (cov0 + cov1) + 0.25 * dm @ dm.transpose(-2, -1)


def gaussian_js_by_kl(mu0, cov0, mu1, cov1) -> torch.Tensor:
    """The approximation's definition: KL(N0 || M~) / 2 + KL(N1 || M~) / 2 with M~ the moment-matched
    Gaussian of the mixture (reference for ``gaussian_js_moment_matched``; twice its cost)."""
    mu_m, cov_m = moment_matched_mixture(mu0, cov0, mu1, cov1)
    return 0.5 * (gaussian_kl(mu0, cov0, mu_m, cov_m) + gaussian_kl(mu1, cov1, mu_m, cov_m))


def _logdet_spd(cov: torch.Tensor) -> torch.Tensor:
    return 2 * torch.log(torch.diagonal(torch.linalg.cholesky(cov), dim1=-2, dim2=-1)).sum(-1)


def gaussian_js_moment_matched(mu0, cov0, mu1, cov1) -> torch.Tensor:
    """Approximate Jensen-Shannon divergence between N0 and N1 (module docstring):
    1/2 log det Sigma_m - 1/4 (log det Sigma_0 + log det Sigma_1), Sigma_m the mixture's covariance."""
    _, cov_m = moment_matched_mixture(mu0, cov0, mu1, cov1)
    return 0.5 * _logdet_spd(cov_m) - 0.25 * (_logdet_spd(cov0) + _logdet_spd(cov1))


DIVERGENCES = {
    "js": gaussian_js_moment_matched,
    "sym_kl": gaussian_symmetric_kl,
    "kl_source_target": gaussian_kl,                                 # KL(source || target)
    "kl_target_source": lambda m0, c0, m1, c1: gaussian_kl(m1, c1, m0, c0),
}


# ------------------------------------------------------------------ feature grouping

def spectral_feature_groups(cov: np.ndarray, n_groups: int, seed: int = 0) -> list[np.ndarray]:
    """Partition the feature dimensions into ``n_groups`` by spectral clustering of |correlation|.

    Uses scikit-learn's SpectralClustering on the precomputed affinity ``|corr|`` (dimensions with
    zero variance get affinity 0 to every other one and 1 to themselves). ``n_groups=1`` returns one
    group with every dimension (the "without grouping" ablation). Groups are returned sorted.
    """
    d = cov.shape[0]
    if not 1 <= n_groups <= d:
        raise ValueError(f"n_groups must be in [1, {d}], got {n_groups}")
    if n_groups == 1:
        return [np.arange(d)]
    sd = np.sqrt(np.clip(np.diag(cov), 1e-12, None))
    aff = np.abs(cov / sd[:, None] / sd[None, :])
    aff = np.clip(aff, 0, 1)
    np.fill_diagonal(aff, 1.0)
    from sklearn.cluster import SpectralClustering
    labels = SpectralClustering(n_clusters=n_groups, affinity="precomputed", random_state=seed,
                                assign_labels="cluster_qr").fit_predict(aff)
    groups = [np.flatnonzero(labels == g) for g in range(n_groups)]
    return [g for g in groups if len(g)]


# ------------------------------------------------------------------ source statistics

@dataclass
class SourceStatistics:
    """Everything CAFe keeps from the source domain: O(d^2) numbers, no images."""

    mean: torch.Tensor          # (d,)
    cov: torch.Tensor           # (d, d)
    groups: list[np.ndarray]    # partition of range(d)

    def to(self, device) -> "SourceStatistics":
        return SourceStatistics(self.mean.to(device), self.cov.to(device), self.groups)

    def state(self) -> dict:
        return {"mean": self.mean.cpu(), "cov": self.cov.cpu(),
                "groups": [torch.as_tensor(g) for g in self.groups]}

    @classmethod
    def from_state(cls, s: dict) -> "SourceStatistics":
        return cls(s["mean"], s["cov"], [g.numpy() for g in s["groups"]])


@torch.no_grad()
def feature_moments(model: nn.Module, batches) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance of ``model.forward_features`` over the batches (model in eval mode)."""
    model.eval()
    n, s1, s2 = 0, None, None
    for x in batches:
        f = model.forward_features(x).double()
        s1 = f.sum(0) if s1 is None else s1 + f.sum(0)
        s2 = f.T @ f if s2 is None else s2 + f.T @ f
        n += len(f)
    mean = s1 / n
    cov = (s2 - n * torch.outer(mean, mean)) / (n - 1)
    return mean.float(), cov.float()


def compute_source_statistics(model: nn.Module, batches, n_groups: int, seed: int = 0) -> SourceStatistics:
    mean, cov = feature_moments(model, batches)
    return SourceStatistics(mean, cov, spectral_feature_groups(cov.numpy().astype(np.float64), n_groups, seed))


# ------------------------------------------------------------------ losses

def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample Shannon entropy of softmax(logits)."""
    return -(logits.softmax(1) * logits.log_softmax(1)).sum(1)


def infomax_loss(logits: torch.Tensor) -> torch.Tensor:
    """Information maximisation (SHOT-IM): mean entropy minus entropy of the mean prediction."""
    p_mean = logits.softmax(1).mean(0)
    return entropy(logits).mean() + (p_mean * torch.log(p_mean + 1e-8)).sum()


def batch_moments(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu = f.mean(0)
    c = f - mu
    return mu, c.T @ c / (len(f) - 1)


def alignment_loss(features: torch.Tensor, stats: SourceStatistics, eps: float = 1e-3,
                   divergence: str = "js") -> torch.Tensor:
    """L_align: sum over feature groups of D(N_s^g, N_t^g); both covariances get ``eps * I``."""
    div = DIVERGENCES[divergence]
    mu_t, cov_t = batch_moments(features)
    total = features.new_zeros(())
    for g in stats.groups:
        gi = torch.as_tensor(g, device=features.device)
        eye = eps * torch.eye(len(g), device=features.device, dtype=features.dtype)
        total = total + div(stats.mean[gi], stats.cov[gi][:, gi] + eye, mu_t[gi], cov_t[gi][:, gi] + eye)
    return total


def cafe_loss(features, logits, stats: SourceStatistics, weight: float = 1.0, eps: float = 1e-3,
              divergence: str = "js") -> torch.Tensor:
    """L = L_ent - L_div + weight * L_align."""
    return infomax_loss(logits) + weight * alignment_loss(features, stats, eps, divergence)
