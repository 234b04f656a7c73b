"""Configuration of meta_pu: one run = one (dataset, n_pos, n_unl, prior, prior known or not, seed) cell,
every method of ``methods`` evaluated on the same fixed test tasks.

Defaults = our paper-scale (full) profile; the paper's experimental section could not be read, so
every number below is our choice (README, "Deviations"), not a value quoted from the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

METHOD_NAMES = ("proposed", "upu", "nnpu", "elkan_noto", "ulsif", "protonet", "maml", "pn_oracle")
DATASET_NAMES = ("synthetic", "omniglot", "digits", "fmnist_pca32", "fmnist", "anomaly")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "fmnist"
    """synthetic (two Gaussians per task) | omniglot (character vs rest) | digits | fmnist_pca32 | fmnist (class pairs)
    | anomaly (ADBench tables: positive = anomaly; meta-training / validation / test tables disjoint)."""
    methods: str = ",".join(METHOD_NAMES)
    """Comma-separated methods, evaluated on the same test tasks: proposed, upu, nnpu, elkan_noto, ulsif (per task),
    protonet, maml (meta-learned baselines), pn_oracle (supervised reference: the labels of U are revealed)."""
    n_pos: int = 10
    """Labelled positives of a test task."""
    n_unl: int = 50
    """Unlabelled instances of a test task."""
    prior: float = 0.5
    """Class prior pi of a test task (positives in U and in the queries: round(pi n))."""
    prior_known: bool = True
    """True: every method gets the true prior. False: each estimates it from P and U (proposed: 1 / max r;
    per-task and meta baselines: the same bound from a per-task kernel uLSIF ratio)."""
    n_query: int = 100
    """Labelled test instances per task (test accuracy; meta-training query loss)."""
    class_fractions: tuple[float, float, float] = (0.5, 0.2, 0.3)
    """Fractions of the classes for meta-training, validation and test tasks (disjoint classes)."""
    synthetic_dim: int = 2
    """Dimension of the synthetic Gaussians."""
    train_pos_range: tuple[int, int] = (5, 30)
    """Range of n_pos drawn per meta-training batch (one model serves every test size)."""
    train_unl_range: tuple[int, int] = (20, 200)
    """Range of n_unl drawn per meta-training batch."""
    train_prior_range: tuple[float, float] = (0.2, 0.8)
    """Range of the class prior drawn per meta-training task."""
    prior_min: float = 0.05
    """Lower clip of an estimated prior."""
    prior_max: float = 0.95
    """Upper clip of an estimated prior."""
    hidden: int = 256
    """Hidden width of every network (encoders, embedding, baselines' MLPs)."""
    n_hidden: int = 2
    """Hidden layers of every network."""
    task_hidden: int = 256
    """Hidden width of the per-task networks (uPU, nnPU, PN oracle), trained on one task's P and U only."""
    embed_dim: int = 64
    """Dimension K of the embedding h(x) (proposed) and of the ProtoNet embedding."""
    set_dim: int = 64
    """Dimension of each task code g_P(P), g_U(U)."""
    init_lambda: float = 0.1
    """Initial ridge penalty of the closed form (meta-learned, softplus-parametrised)."""
    risk_scale: float = 10.0
    """kappa of the sigmoid surrogate sigma(-y kappa (pi r(x) - 1/2)) of the test risk (ours)."""
    meta_iters: int = 10000
    """Meta-training iterations (proposed, ProtoNet)."""
    maml_iters: int = 5000
    """MAML meta-training iterations."""
    maml_inner_steps: int = 5
    """MAML inner SGD steps on the nnPU risk of the support (training and test)."""
    maml_inner_lr: float = 0.1
    """MAML inner learning rate."""
    meta_batch: int = 16
    """Tasks per meta-training iteration."""
    lr: float = 1e-3
    """Adam learning rate of meta-training."""
    n_checkpoints: int = 3
    """Tuning budget: meta-learned methods keep this many checkpoints (evenly spaced) and per-task methods try
    this many hyperparameter values; the best on the validation tasks is evaluated on the test tasks."""
    nn_steps: int = 300
    """Per-task networks (uPU, nnPU, PN oracle): full-batch Adam steps."""
    nn_lr: float = 1e-3
    """Learning rate of the per-task networks."""
    nn_weight_decays: tuple[float, ...] = (1e-4, 1e-2, 1e-1)
    """Per-task networks: weight decays tried on the validation tasks (n_checkpoints of them)."""
    en_cs: tuple[float, ...] = (0.1, 1.0, 10.0)
    """Elkan-Noto: inverse L2 strengths C of the logistic regression tried on the validation tasks."""
    kernel_sigma_factors: tuple[float, ...] = (0.5, 1.0, 2.0)
    """uLSIF: Gaussian widths (x the median distance) tried on the validation tasks."""
    kernel_lambdas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
    """uLSIF: ridge penalties chosen per task by its own 5-fold cross-validation of the squared loss."""
    n_val_tasks: int = 50
    """Validation tasks (validation classes), for the tuning of every method."""
    n_test_tasks: int = 500
    """Test tasks (test classes), identical for every method."""
    dtype: str = "float64"
    """float64 | float32 for networks and task tensors."""

    def method_list(self) -> list[str]:
        return [m.strip() for m in self.methods.split(",") if m.strip()]

    def validate(self) -> None:
        bad = [m for m in self.method_list() if m not in METHOD_NAMES]
        if bad or not self.method_list():
            raise ConfigError(f"unknown method(s) {bad}; valid: {', '.join(METHOD_NAMES)}")
        if self.dataset not in DATASET_NAMES:
            raise ConfigError(f"dataset must be one of {', '.join(DATASET_NAMES)}, got {self.dataset!r}")
        if self.n_pos < 2 or self.n_unl < 2 or self.n_query < 2:
            raise ConfigError(f"n_pos, n_unl and n_query must be >= 2, got {self.n_pos}, {self.n_unl}, {self.n_query}")
        for name in ("prior", "prior_min", "prior_max"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {getattr(self, name)}")
        lo, hi = self.train_prior_range
        if not 0.0 < lo <= hi < 1.0 or self.prior_min >= self.prior_max:
            raise ConfigError(f"need 0 < train_prior_range[0] <= [1] < 1 and prior_min < prior_max, got "
                              f"{self.train_prior_range}, {self.prior_min}, {self.prior_max}")
        for name in ("train_pos_range", "train_unl_range"):
            a, b = getattr(self, name)
            if not 2 <= a <= b:
                raise ConfigError(f"{name} must satisfy 2 <= min <= max, got {(a, b)}")
        if len(self.class_fractions) != 3 or min(self.class_fractions) <= 0 or abs(sum(self.class_fractions) - 1) > 1e-6:
            raise ConfigError(f"class_fractions must be three positive fractions summing to 1, got {self.class_fractions}")
        k = self.n_checkpoints
        for name in ("nn_weight_decays", "en_cs", "kernel_sigma_factors"):
            if len(getattr(self, name)) != k:
                raise ConfigError(f"{name} must list n_checkpoints={k} values (the same tuning budget for every "
                                  f"method), got {getattr(self, name)}")
        if min(self.en_cs) <= 0 or min(self.kernel_sigma_factors) <= 0 or min(self.kernel_lambdas) <= 0 \
                or min(self.nn_weight_decays) < 0:
            raise ConfigError("en_cs, kernel_sigma_factors, kernel_lambdas must be > 0 and nn_weight_decays >= 0")
        for name in ("lr", "nn_lr", "maml_inner_lr", "init_lambda", "risk_scale"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("meta_iters", "maml_iters", "meta_batch", "n_checkpoints", "n_val_tasks", "n_test_tasks",
                     "hidden", "embed_dim", "set_dim", "n_hidden", "synthetic_dim", "nn_steps", "task_hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.maml_inner_steps < 0:
            raise ConfigError(f"maml_inner_steps must be >= 0, got {self.maml_inner_steps}")
        if self.meta_iters < self.n_checkpoints or self.maml_iters < self.n_checkpoints:
            raise ConfigError("meta_iters and maml_iters must be >= n_checkpoints")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype!r}")


# threads=1: tiny networks, one thread is fastest; float64: meta-trained models independent of the CPU's kernels.
QUICK = {"threads": 1, "dtype": "float64", "dataset": "omniglot", "hidden": 64, "embed_dim": 32, "set_dim": 32,
         "n_hidden": 2, "task_hidden": 32, "meta_iters": 1000, "maml_iters": 300, "maml_inner_steps": 3,
         "maml_inner_lr": 0.5, "meta_batch": 8, "nn_steps": 100, "n_query": 10, "n_val_tasks": 15, "n_test_tasks": 40,
         "train_pos_range": (3, 10), "train_unl_range": (10, 40), "train_prior_range": (0.2, 0.6)}
SMOKE = {"meta_iters": 12, "maml_iters": 6, "nn_steps": 10, "n_val_tasks": 3, "n_test_tasks": 4}
