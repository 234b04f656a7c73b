"""Configuration of meta_ood: one method, one dataset, one seed (one cell).

Defaults are our full (paper-scale, GPU) profile; ``QUICK`` is the CPU profile (principal-component
features, small MLP encoder, short meta-training); ``SMOKE`` makes a cell take seconds for the tests.
The paper could be read only up to its abstract, so every numeric default is ours (README,
"Reconstructed choices").
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

# The proposed method and its ablations (meta-trained through the closed-form Gaussian fit).
PROPOSED = ("proposed", "proposed_diag", "proposed_shared")
# No meta-learning: the same full-covariance class-Gaussian mixture on a fixed feature map.
FIXED = ("gmm_pretrained", "gmm_input")
META_BASELINES = ("protonet", "maml")
OOD_BASELINES = ("msp", "energy", "mahalanobis", "ocsvm_input", "iforest_input", "ocsvm_pretrained",
                 "iforest_pretrained")
METHODS = PROPOSED + FIXED + META_BASELINES + OOD_BASELINES
META_METHODS = PROPOSED + META_BASELINES
PRETRAINED = ("gmm_pretrained", "ocsvm_pretrained", "iforest_pretrained")
DATASETS = ("omniglot_small", "omniglot", "fmnist", "mnist", "digits", "cifar10", "cifar100")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "omniglot"
    """omniglot_small (8 alphabets, 242 characters: the shared copy), omniglot (background + evaluation,
    1,623 characters), fmnist, mnist, digits (scikit-learn 8x8), cifar10, cifar100. Classes are split per seed
    into meta-training and held-out classes (Omniglot: by alphabet)."""
    method: str = "proposed"
    """proposed (full-covariance class Gaussians, meta-trained) | proposed_diag | proposed_shared (ablations: diagonal /
    one shared covariance) | gmm_pretrained | gmm_input (no meta-learning: full-covariance mixture on the pre-trained
    encoder / on the input features) | protonet (distance to the nearest prototype) | maml (MAML with an OoD head) |
    msp | energy | mahalanobis (per-task classifier, pytorch-ood scores) | ocsvm_input | iforest_input |
    ocsvm_pretrained | iforest_pretrained (scikit-learn, per task)."""
    test_frac: float = 0.25
    """Fraction of the classes (Omniglot: of the alphabets) held out for test tasks."""
    n_way: int = 5
    """In-distribution classes of a task (N)."""
    k_shot: int = 5
    """Support instances per in-distribution class (K)."""
    n_query: int = 10
    """Test queries per in-distribution class; the task has as many OoD queries as ID queries."""
    n_train_query: int = 5
    """Meta-training queries per in-distribution class (and as many OoD queries in total)."""
    n_test_tasks: int = 200
    """Test tasks per cell (the same for every method of a seed)."""
    pca_dim: int = 0
    """Input features: 0 = pixels (scaled to [0, 1]); > 0 = that many principal components fitted on the meta-training
    classes' rows only (scaled to unit average variance)."""
    hidden: int = 256
    """Hidden width of every network (two hidden layers)."""
    encoder: str = "residual"
    """Encoder of the proposed method, ProtoNet and the pre-trained encoder: residual (z = x + g(x), g an MLP whose last
    layer starts at zero: latent dimension = input dimension) or mlp (an MLP to latent_dim)."""
    latent_dim: int = 32
    """Latent dimension of the mlp encoder, and penultimate width of the per-task classifier."""
    ridge: float = 0.1
    """Ridge added to every covariance estimate (Sigma + ridge I)."""
    meta_iters: int = 20000
    """Meta-training iterations (meta-learned methods)."""
    meta_batch: int = 8
    """Tasks per meta-training iteration."""
    lr: float = 1e-3
    """Adam learning rate (meta-training, pre-training, per-task classifiers)."""
    maml_iters: int = 0
    """MAML meta-iterations; 0 = meta_iters (MAML may be given fewer in the quick profile: README)."""
    maml_inner_steps: int = 5
    """MAML: inner gradient steps on the support set."""
    maml_inner_lr: float = 0.1
    """MAML: inner learning rate."""
    pretrain_epochs: int = 30
    """Pre-trained encoder: epochs of softmax classification over all meta-training classes."""
    clf_steps: int = 200
    """Per-task classifier (msp / energy / mahalanobis): full-batch Adam steps on the support set."""
    clf_lr: float = 0.01
    """Per-task classifier: Adam learning rate (weight decay 5e-4)."""
    ocsvm_nu: float = 0.1
    """One-class SVM: nu (RBF kernel, gamma = 'scale')."""

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if not 0.0 < self.test_frac < 1.0:
            raise ConfigError(f"test_frac must be in (0, 1), got {self.test_frac}")
        if self.n_way < 1 or self.k_shot < 2:
            raise ConfigError(f"need n_way >= 1 and k_shot >= 2 (a covariance needs two points), got "
                              f"{self.n_way}, {self.k_shot}")
        if self.n_query < 1 or self.n_train_query < 1 or self.n_test_tasks < 1:
            raise ConfigError("n_query, n_train_query and n_test_tasks must be >= 1")
        if self.pca_dim < 0 or self.hidden < 1 or self.latent_dim < 1:
            raise ConfigError("pca_dim >= 0, hidden >= 1 and latent_dim >= 1 are required")
        if self.encoder not in ("residual", "mlp"):
            raise ConfigError(f"encoder must be residual or mlp, got {self.encoder!r}")
        if self.ridge <= 0:
            raise ConfigError(f"ridge must be > 0 (it makes the covariances positive definite), got {self.ridge}")
        if self.meta_iters < 1 or self.meta_batch < 1 or self.maml_iters < 0 or self.maml_inner_steps < 1:
            raise ConfigError("meta_iters, meta_batch, maml_inner_steps >= 1 and maml_iters >= 0 are required")
        if self.pretrain_epochs < 1 or self.clf_steps < 1 or self.clf_lr <= 0 or not 0.0 < self.ocsvm_nu <= 1.0:
            raise ConfigError("pretrain_epochs >= 1, clf_steps >= 1 and ocsvm_nu in (0, 1] are required")


QUICK = {"threads": 1, "pca_dim": 64, "hidden": 128, "latent_dim": 16, "meta_iters": 1000, "meta_batch": 4,
         "n_test_tasks": 100, "pretrain_epochs": 20, "clf_steps": 100}
SMOKE = {"threads": 1, "pca_dim": 16, "hidden": 16, "latent_dim": 4, "meta_iters": 4, "meta_batch": 2,
         "n_test_tasks": 6, "pretrain_epochs": 2, "clf_steps": 5, "maml_inner_steps": 1}
