"""Configuration of gp_calib. Defaults = our full (paper-scale) profile; QUICK = the CPU profile.

Only the abstract and introduction of the paper are readable here: every number below (shots, task
sizes, network widths, budgets, beta, tau) is our reconstruction, marked in the README.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

METHODS = ("proposed", "no_gmm", "dkt", "gp_isotonic", "maml", "cnp", "ensemble")
META_LEARNED = ("proposed", "no_gmm", "dkt", "maml", "cnp")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "pmlb_regression"
    """Task collection: the 35 PMLB regression tables (tasks split by table)."""
    method: str = "proposed"
    """proposed | no_gmm (ablation without the GMM calibration) | dkt (deep kernel transfer) | gp_isotonic (GP per
    task + isotonic recalibration) | maml | cnp | ensemble (deep ensemble per task). Every method of a seed sees
    the same table split and the same test tasks."""
    n_support: int = 5
    """Labelled support instances of a task (shots)."""
    n_query: int = 30
    """Query instances of a task (they define the test metrics and the meta-training loss)."""
    n_features: int = 8
    """Input columns of a task, drawn at random from its table (zero-padded when the table has fewer)."""
    n_val_tables: int = 4
    """Tables held out for meta-validation (model selection of the meta-learned methods)."""
    n_test_tables: int = 10
    """Tables held out for meta-test; the other tables are for meta-training."""
    n_test_tasks: int = 500
    """Test tasks (identical for every method)."""
    n_val_tasks: int = 100
    """Fixed validation tasks, scored every ``val_every`` meta-training iterations."""
    hidden: int = 64
    """Hidden width of every network."""
    n_hidden: int = 2
    """Hidden layers of every network."""
    embed_dim: int = 16
    """Output dimension of the deep kernel's encoder."""
    meta_iters: int = 5000
    """Meta-training iterations of every meta-learned method."""
    meta_batch: int = 16
    """Tasks per meta-training iteration."""
    lr: float = 3e-3
    """Adam learning rate of meta-training."""
    val_every: int = 250
    """Validation period (iterations); the state with the best validation loss is kept."""
    beta: float = 1.0
    """Weight of the accuracy term beside the soft test ECE in the proposed objective."""
    accuracy_loss: str = "mse"
    """Accuracy term of the proposed objective on the query points: mse (of the predictive mean) | nll."""
    tau: float = 0.02
    """Temperature of the sigmoid that replaces the ECE's indicator in the training surrogate."""
    init_bandwidth: float = 0.5
    """Initial bandwidth h of the GMM components (meta-learned)."""
    init_base_weight: float = 0.5
    """Initial weight w0 of the GMM's base N(0, 1) component (meta-learned)."""
    maml_inner_steps: int = 5
    """MAML: inner SGD steps on the support (training and test)."""
    maml_inner_lr: float = 0.05
    """MAML: inner learning rate."""
    cnp_r_dim: int = 64
    """CNP: dimension of the aggregated representation."""
    ensemble_members: int = 5
    """Deep ensemble: networks per task."""
    ensemble_steps: int = 200
    """Deep ensemble: Adam steps on the support per network."""
    ensemble_lr: float = 1e-2
    """Deep ensemble: Adam learning rate."""
    ensemble_adv_eps: float = 0.01
    """Deep ensemble: adversarial-training step (fast gradient sign), times the input range; 0 disables it."""
    gp_steps: int = 100
    """GP per task: Adam steps on the log marginal likelihood (gpytorch)."""
    gp_lr: float = 0.1
    """GP per task: Adam learning rate."""
    isotonic_mix: float = 0.01
    """GP + isotonic: the recalibration map is (1 - mix) R + mix id, so the density (NLL) stays finite."""
    dtype: str = "float64"
    """float64 | float32: floating type of every network and GP."""

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; valid: {', '.join(METHODS)}")
        if self.dataset != "pmlb_regression":
            raise ConfigError(f"dataset must be pmlb_regression, got {self.dataset!r}")
        if self.n_support < 2 or self.n_query < 1 or self.n_features < 1:
            raise ConfigError(f"need n_support >= 2, n_query >= 1, n_features >= 1; got {self.n_support}, "
                              f"{self.n_query}, {self.n_features}")
        for k in ("n_test_tasks", "n_val_tasks", "hidden", "embed_dim", "meta_iters", "meta_batch", "val_every",
                  "cnp_r_dim", "ensemble_members", "ensemble_steps", "gp_steps"):
            if getattr(self, k) < 1:
                raise ConfigError(f"{k} must be >= 1, got {getattr(self, k)}")
        for k in ("lr", "tau", "init_bandwidth", "maml_inner_lr", "ensemble_lr", "gp_lr"):
            if not getattr(self, k) > 0:
                raise ConfigError(f"{k} must be > 0, got {getattr(self, k)}")
        if self.beta < 0 or self.ensemble_adv_eps < 0 or self.maml_inner_steps < 0 or self.n_hidden < 0:
            raise ConfigError("beta, ensemble_adv_eps, maml_inner_steps and n_hidden must be >= 0")
        if not 0 < self.init_base_weight < 1 or not 0 <= self.isotonic_mix < 1:
            raise ConfigError("init_base_weight must be in (0, 1) and isotonic_mix in [0, 1)")
        if self.accuracy_loss not in ("mse", "nll"):
            raise ConfigError(f"accuracy_loss must be mse or nll, got {self.accuracy_loss!r}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype!r}")


# threads=1: tiny networks, one thread is fastest on a shared machine.
QUICK = {"threads": 1, "n_test_tasks": 200, "n_val_tasks": 64, "meta_iters": 2000, "val_every": 200,
         "ensemble_steps": 100, "gp_steps": 60}
SMOKE = {"n_test_tasks": 6, "n_val_tasks": 4, "meta_iters": 6, "val_every": 3, "meta_batch": 4, "n_query": 10,
         "ensemble_steps": 5, "gp_steps": 3, "maml_inner_steps": 1, "hidden": 16, "embed_dim": 4}
