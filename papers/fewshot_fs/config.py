"""Configuration of fewshot_fs. Defaults = our full (paper-scale) profile; QUICK = the CPU profile.

Only the abstract and the introduction of the paper could be read here, so every number below
(datasets, task construction, network sizes, budgets, temperatures) is our reconstruction, not a
value quoted from the paper (README, "Reconstructed choices"). One run = one (dataset, number of
selected features K, seed) cell: the meta-learned models are trained once and every method is
evaluated on the same target tasks at every target-support size of ``n_supports``.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError
from papers.fewshot_fs.data import N_CLASSES

DATASETS = tuple(N_CLASSES)
METHODS = ("proposed", "proposed_noenc", "cae", "laplacian", "spec", "mcfs", "ndfs", "variance", "random")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "fashion784"
    """fashion (Fashion-MNIST, 2x2-average-pooled to 14x14 = 196 pixels) | fashion784 (28x28 pixels) | digits
    (scikit-learn 8x8 digits, 64 pixels) | letter (PMLB, 26 classes, 16 features) | satimage (PMLB, 6 classes,
    36 features). A task = a subset of ``n_ways`` classes over the same features."""
    n_selected: int = 20
    """K, the number of features selected."""
    n_supports: str = "5,10,20"
    """Comma-separated target-support sizes N (unlabelled target instances a method may use)."""
    methods: str = ",".join(METHODS)
    """Comma-separated methods evaluated on the same target tasks (see baselines.METHODS)."""
    n_ways: int = 2
    """Classes per task (the task's instances are an equal mixture of them)."""
    n_test_classes: int = 4
    """Classes held out for target tasks (class-disjoint from the source tasks; the split is drawn per seed)."""
    per_class: int = 1000
    """Instances kept per class from the dataset's training split (a seeded draw; at most, all of a smaller class)."""
    n_test_tasks: int = 30
    """Target tasks per cell (the same tasks for every method and support size)."""
    n_eval_train: int = 200
    """Per target task: unlabelled instances that fit the common ridge evaluator and the downstream classifier
    (never seen by a selector)."""
    n_query: int = 200
    """Per target task: held-out instances on which reconstruction error and accuracy are measured."""
    train_support_min: int = 5
    """Smallest support size drawn in meta-training (one model serves every test support size)."""
    train_support_max: int = 30
    """Largest support size drawn in meta-training."""
    train_query: int = 50
    """Query instances per source task in meta-training (the expected test reconstruction error)."""
    meta_steps: int = 6000
    """Meta-training steps (Adam) of the proposed method and of the ablation."""
    meta_batch: int = 8
    """Source tasks per meta-training step."""
    lr: float = 1e-3
    """Adam learning rate of meta-training."""
    hidden: int = 256
    """Width of the hidden layers (set encoder, selector head, decoder)."""
    embed: int = 64
    """Size of the set encoding z of the target instances."""
    feature_hidden: int = 0
    """Width of the per-feature set network that adds a feature's logits from its N values (0 = logits from z
    only)."""
    temp_start: float = 10.0
    """Concrete temperature at the first step (annealed exponentially, Abid et al. 2019)."""
    temp_end: float = 0.01
    """Concrete temperature at the last step."""
    cae_steps: int = 500
    """Per-task concrete autoencoder: full-batch Adam steps on the N target instances."""
    cae_lr: float = 1e-2
    """Per-task concrete autoencoder learning rate."""
    ridge: float = 1e-2
    """L2 penalty of the common ridge evaluator (features in [0, 1])."""
    graph_k: int = 5
    """Neighbours of the kNN graph of Laplacian score, MCFS and NDFS (capped at N - 1)."""
    ndfs_gamma: float = 1e8
    """NDFS orthogonality weight gamma (alpha = beta = 1, as in scikit-feature)."""

    def supports(self) -> list[int]:
        try:
            out = [int(s) for s in str(self.n_supports).split(",") if s.strip()]
        except ValueError as e:
            raise ConfigError(f"n_supports must be comma-separated integers, got {self.n_supports!r}") from e
        return out

    def method_list(self) -> list[str]:
        return [m.strip() for m in str(self.methods).split(",") if m.strip()]

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        bad = [m for m in self.method_list() if m not in METHODS]
        if bad or not self.method_list():
            raise ConfigError(f"unknown methods {bad}; valid: {', '.join(METHODS)}")
        sup = self.supports()
        if not sup or min(sup) < 3:
            raise ConfigError(f"every target-support size must be >= 3, got {self.n_supports!r}")
        if self.n_selected < 1:
            raise ConfigError(f"n_selected must be >= 1, got {self.n_selected}")
        n_cls = N_CLASSES[self.dataset]
        if not 2 <= self.n_ways <= self.n_test_classes:
            raise ConfigError(f"need 2 <= n_ways <= n_test_classes, got n_ways={self.n_ways}, "
                              f"n_test_classes={self.n_test_classes}")
        if n_cls - self.n_test_classes < self.n_ways:
            raise ConfigError(f"{self.dataset} has {n_cls} classes: {n_cls - self.n_test_classes} source classes cannot "
                              f"form {self.n_ways}-class tasks")
        if not 3 <= self.train_support_min <= self.train_support_max:
            raise ConfigError("need 3 <= train_support_min <= train_support_max")
        if min(self.meta_steps, self.meta_batch, self.cae_steps, self.n_test_tasks, self.train_query) < 1:
            raise ConfigError("meta_steps, meta_batch, cae_steps, n_test_tasks and train_query must be >= 1")
        if not self.temp_start >= self.temp_end > 0:
            raise ConfigError("need temp_start >= temp_end > 0")
        if self.n_eval_train < 2 * self.n_ways or self.n_query < self.n_ways:
            raise ConfigError("n_eval_train and n_query are too small for the task's classes")


QUICK = dict(dataset="fashion", per_class=500, n_test_tasks=12, meta_steps=1000, meta_batch=4, hidden=128, cae_steps=150,
             n_eval_train=150, n_query=150, threads=1)
SMOKE = dict(dataset="digits", per_class=60, n_test_tasks=2, meta_steps=30, meta_batch=2, hidden=32, embed=8,
             cae_steps=10, n_eval_train=20, n_query=20, n_supports="5", n_selected=4, train_support_max=10,
             train_query=10, threads=1)
