"""Configuration of one zsda run: one method, one dataset of domains, one seed.

Defaults are our full (paper-scale) profile. The paper's experimental section could not be read
(only the abstract and introduction are available), so every number below is ours (README,
"Reconstructed choices"); the structure (latent domain vectors inferred from a domain's unlabelled
features, an ELBO trained with SGD, unseen domains at test) follows the abstract.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

METHODS = ("proposed", "proposed_det", "pooled", "pooled_norm", "dann", "moe", "oracle")
DATASETS = ("rotated_mnist", "rotated_fmnist", "wind_months")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "rotated_mnist"
    """rotated_mnist (MNIST, the 5k subset when the official files are absent) | rotated_fmnist
    (Fashion-MNIST) -- domain = rotation angle -- | wind_months (PMLB 503_wind, regression of the
    Malin Head wind speed from 11 other Irish stations, domain = calendar month)."""
    method: str = "proposed"
    """proposed (latent domain vectors, ELBO) | proposed_det (deterministic domain vector, ablation) |
    pooled | pooled_norm (domain-wise input standardisation) | dann (invariant features over the
    source domains) | moe (source experts weighted by MMD similarity) | oracle (trained on target labels)."""
    angle_step: float = 15.0
    """Rotated images: domain k has angle k * angle_step degrees (the rotated-MNIST benchmarks' 15 degrees)."""
    n_domains: int = 12
    """Rotated images: number of angle domains (wind_months always has the 12 months)."""
    n_unseen: int = 4
    """Domains held out as unseen targets, drawn per seed among the interior domains (not the first or last)."""
    n_per_domain: int = 300
    """Rotated images: images per domain (distinct images across domains)."""
    image_size: int = 28
    """Rotated images: side after block-average downsampling (28 = none, 14 = 2x2 blocks)."""
    hidden: int = 256
    """Width of every hidden layer (feature extractor, inference network, parameter network)."""
    feat_dim: int = 64
    """Output size of the feature extractor h(x); the domain-specific head is linear in h(x)."""
    z_dim: int = 4
    """Size of the latent domain vector."""
    steps: int = 4000
    """Adam steps of the proposed method and of every pooled baseline."""
    expert_steps: int = 1000
    """Adam steps of each single-domain model (moe experts, oracle)."""
    batch_per_domain: int = 64
    """Labelled instances per domain in one minibatch."""
    set_size: int = 128
    """Unlabelled instances per domain fed to the inference network in one training step."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 0.0
    """L2 penalty (Adam weight decay) on every network's parameters, the same for every method."""
    n_samples: int = 1
    """Monte-Carlo samples of z per domain in the training ELBO (reparameterisation)."""
    n_pred_samples: int = 20
    """Samples of z averaged in the predictive distribution at test time."""
    dann_weight: float = 1.0
    """DANN: final weight of the reversed domain-classification gradient (Ganin et al. schedule)."""

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        n_dom = 12 if self.dataset == "wind_months" else self.n_domains
        if not 1 <= self.n_unseen <= n_dom - 3:
            raise ConfigError(f"n_unseen={self.n_unseen} must leave at least 3 source domains among the "
                              f"{n_dom} domains (1 <= n_unseen <= {n_dom - 3})")
        if self.image_size not in (7, 14, 28):
            raise ConfigError(f"image_size must be 28, 14 or 7 (block averages of 28x28), got {self.image_size}")
        if self.n_per_domain < 20 or self.batch_per_domain < 1 or self.set_size < 2:
            raise ConfigError("n_per_domain >= 20, batch_per_domain >= 1 and set_size >= 2 are required")
        if min(self.steps, self.expert_steps, self.hidden, self.feat_dim, self.z_dim, self.n_samples,
               self.n_pred_samples) < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ConfigError("steps, expert_steps, hidden, feat_dim, z_dim, n_samples, n_pred_samples >= 1, lr > 0 and weight_decay >= 0")


QUICK = {"threads": 1, "image_size": 14, "hidden": 128, "steps": 1500, "expert_steps": 400}
SMOKE = {"threads": 1, "image_size": 7, "n_domains": 8, "n_unseen": 2, "n_per_domain": 60, "hidden": 32,
         "feat_dim": 16, "steps": 30, "expert_steps": 10, "n_pred_samples": 4}
