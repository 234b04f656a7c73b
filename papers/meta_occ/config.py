"""Configuration of meta_occ: one method, one support size, one seed (one cell).

Defaults are our full (paper-scale) profile; ``QUICK`` is the CPU profile on Fashion-MNIST PCA
features; ``SMOKE`` makes a cell take seconds for the tests. The paper's experimental section
could not be read here, so every numeric default is our choice (README, "Reconstructed choices").
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

METHODS = ("proposed", "proposed_nometa", "ocsvm", "iforest", "deep_svdd", "deep_sad", "supervised",
           "maml", "protonet", "oc_protonet", "meta_svdd")
META_METHODS = ("proposed", "maml", "protonet", "oc_protonet", "meta_svdd")
DATASETS = ("fmnist_pca32", "fmnist", "adbench")
DIMS = {"fmnist_pca32": 32, "fmnist": 784, "adbench": 16}


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "fmnist"
    """fmnist_pca32 (Fashion-MNIST, 32 principal components fitted on the meta-training classes), fmnist (784 pixels / 255)
    or adbench (the 43 ADBench tables, tasks within tables, meta-training / meta-test halves of each table's rows)."""
    method: str = "proposed"
    """proposed | proposed_nometa (the eigen solver on the input features, no encoder) | ocsvm | iforest | deep_svdd |
    deep_sad | supervised (logistic regression per task) | maml | protonet | oc_protonet (one-class ProtoNet) |
    meta_svdd (Meta-SVDD: SVDD of the support normals in a meta-learned embedding)."""
    n_test_classes: int = 4
    """Fashion-MNIST: classes held out for meta-test tasks (the others are meta-training classes); drawn from the seed."""
    n_normal: int = 10
    """Labelled normal instances in the support set of a task."""
    n_anomaly: int = 3
    """Labelled anomalous instances in the support set of a task."""
    n_query: int = 100
    """Query normals and query anomalies of a test task (AUROC is computed on these 2 x n_query)."""
    n_train_query: int = 30
    """Query normals and anomalies of a meta-training task (the meta-training loss)."""
    n_test_tasks: int = 100
    """Test tasks per cell (the normal class cycles over the held-out classes)."""
    hidden: int = 256
    """Hidden width of every network."""
    emb_dim: int = 32
    """Output dimension of the Deep SVDD / Deep SAD networks (the meta-learned encoders are residual: output = input dim)."""
    rank: int = 4
    """Proposed: leading generalized eigenvectors forming the anomaly subspace."""
    ridge: float = 0.1
    """Proposed: ridge added to the normal scatter matrix B (makes it positive definite)."""
    gamma: float = 0.01
    """Proposed: isotropic term added to the anomaly scatter matrix A (one-class fallback when anomalies are few)."""
    eig_eps: float = 1e-8
    """Proposed: relative broadening of the eigen-gradient (common.meta.eigen guard)."""
    meta_iters: int = 20000
    """Meta-training iterations (meta-learned methods)."""
    meta_batch: int = 8
    """Tasks per meta-training iteration."""
    lr: float = 1e-3
    """Adam learning rate of meta-training and of the per-task deep baselines."""
    maml_inner_steps: int = 5
    """MAML: inner gradient steps on the support set."""
    maml_inner_lr: float = 0.1
    """MAML: inner learning rate."""
    deep_epochs: int = 200
    """Deep SVDD / Deep SAD: full-batch Adam steps per task."""
    sad_eta: float = 1.0
    """Deep SAD: weight of the labelled anomalies' inverse-distance term."""
    ocsvm_nu: float = 0.1
    """OCSVM: nu."""
    svdd_eps: float = 1e-6
    """Meta-SVDD: eps I added to the support kernel matrix (strictly convex SVDD dual)."""

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if not 2 <= self.n_test_classes <= 8:
            raise ConfigError(f"n_test_classes must be in [2, 8] (10 classes, >= 2 left for meta-training), got {self.n_test_classes}")
        if self.n_normal < 2 or self.n_anomaly < 1 or self.n_query < 1 or self.n_train_query < 1:
            raise ConfigError("n_normal >= 2, n_anomaly >= 1, n_query >= 1 and n_train_query >= 1 are required")
        if not 1 <= self.rank <= DIMS[self.dataset]:
            raise ConfigError(f"rank must be between 1 and the feature dimension of {self.dataset}, got {self.rank}")
        if self.ridge <= 0 or self.gamma < 0 or self.eig_eps < 0:
            raise ConfigError("ridge > 0, gamma >= 0 and eig_eps >= 0 are required")
        if self.svdd_eps <= 0:
            raise ConfigError(f"svdd_eps must be > 0, got {self.svdd_eps}")
        if self.meta_iters < 1 or self.meta_batch < 1 or self.n_test_tasks < 1 or self.deep_epochs < 1:
            raise ConfigError("meta_iters, meta_batch, n_test_tasks and deep_epochs must be >= 1")


QUICK = {"threads": 1, "dataset": "fmnist_pca32", "hidden": 64, "emb_dim": 16, "meta_iters": 1000}
SMOKE = {"threads": 1, "dataset": "fmnist_pca32", "hidden": 16, "emb_dim": 8, "meta_iters": 5,
         "n_test_tasks": 8, "n_query": 30, "deep_epochs": 20}
