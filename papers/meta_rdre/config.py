"""Configuration of meta_rdre. Defaults = our full (paper-scale) profile; QUICK = the CPU profile.

The paper's experimental section (datasets, hyperparameters, architecture, baselines) could not
be read: two reading attempts found only the abstract and the first paragraphs of Section 1 in
every stored copy (README, "What the paper says"). Every default below (dataset, alpha, network
sizes, budgets, support sizes) is therefore our paper-scale choice, not a value quoted from the
paper; the structure (source datasets for meta-training, target datasets at test, three uses)
follows the abstract, Section 1 and Figure 1.
"""

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

TASKS = ("rdre", "comparison", "outlier")
METHODS = ("proposed", "proposed_noenc", "rulsif", "ulsif", "kliep", "nn", "ft", "maml")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "mnist"
    """Pair pools (rdre, comparison, and class-disjoint outlier detection): digits | fmnist_pca32 | omniglot_pca32 |
    mnist | fmnist. Outlier detection within one table: an ADBench Classical table by name (cardio, thyroid,
    shuttle, pendigits, ...) or odds_<name> (odds_wbc, odds_arrhythmia)."""
    task: str = "rdre"
    """rdre (relative DRE error on query instances), comparison (same vs shifted dataset pairs, AUC of the
    divergence estimate) or outlier (inlier-based outlier detection, AUC)."""
    methods: str = ",".join(METHODS)
    """Comma-separated methods evaluated on the same test tasks: proposed, proposed_noenc (ablation without
    dataset encoders), rulsif, ulsif, kliep, nn (neural DRE per task), ft (fine-tuning), maml."""
    alpha: float = 0.5
    """Mixture weight alpha of the relative density ratio p_A / (alpha p_A + (1 - alpha) p_B)."""
    n_support: int = 30
    """Instances in each of the two support sets of a test task (outlier: the clean reference set)."""
    n_query: int = 30
    """Query instances per density (held out; they define the test error and the meta-training loss)."""
    n_outlier_test: int = 50
    """Outlier detection: size of the unlabelled test set B of a task."""
    contamination: float = 0.1
    """Outlier detection: fraction of anomalies in the test set B."""
    n_active: int = 2
    """Classes with non-zero weight in each class-mixture density."""
    dirichlet: float = 1.0
    """Concentration of the symmetric Dirichlet drawing the class proportions of a density."""
    mixture: str = "independent"
    """Pair pools: how p_B's classes relate to p_A's: independent (each draws its n_active classes) or overlap (p_B
    shares a uniform random number of p_A's classes; data.OverlapMixturePairSource), for many-class pools."""
    pair_split: str = "classes"
    """Pair pools: meta-test densities over held-out classes (classes) or over held-out rows of all classes (rows)."""
    class_test_frac: float = 0.4
    """Fraction of the classes (pair_split=classes) or rows (pair_split=rows) held out for meta-test tasks."""
    val_frac: float = 0.0
    """Fraction of the classes (rows) held out as a validation pool, used only to tune hyperparameters (``tune``)."""
    tune: bool = False
    """Choose each method's hyperparameter among its 3 candidates (baselines.CANDIDATES) by the cell's metric on
    ``n_val_tasks`` validation tasks (validation pool), then evaluate the chosen one on the test tasks."""
    n_val_tasks: int = 30
    """Validation tasks per cell (tune)."""
    lambda_scale: float = 1.0
    """Proposed method: multiplier of the meta-learned ridge lambda at test-time adaptation (tuned candidate)."""
    maml_test_steps: int = 0
    """MAML: inner SGD steps at test-time adaptation; 0 = maml_inner_steps, as in meta-training (tuned candidate)."""
    kernel_sigma_scale: float = 1.0
    """Kernel baselines: multiplier of every Gaussian width of the CV grid (tuned candidate)."""
    row_test_frac: float = 0.5
    """Fraction of the rows held out for meta-test tasks (anomaly tables)."""
    split_seed: int = -1
    """Seed of the class / row split between meta-training and meta-test: -1 = drawn from the run's seed (a new
    split per seed, so seeds vary the data split too); >= 0 fixes the split across seeds."""
    train_support_min: int = 5
    """Smallest support size drawn during meta-training."""
    train_support_max: int = 50
    """Largest support size drawn during meta-training (one model serves every test support size)."""
    hidden: int = 256
    """Hidden width of every network (encoders, embedding, baselines' MLPs)."""
    n_hidden: int = 2
    """Hidden layers of every network."""
    embed_dim: int = 100
    """Dimension K of the instance embedding h(x) of the proposed method."""
    set_dim: int = 100
    """Dimension of each dataset code z_A, z_B."""
    meta_iters: int = 20000
    """Meta-training iterations (proposed and fine-tuning pre-training)."""
    meta_batch: int = 16
    """Tasks per meta-training iteration."""
    lr: float = 1e-3
    """Adam learning rate of meta-training."""
    maml_iters: int = 20000
    """MAML meta-training iterations."""
    maml_inner_steps: int = 5
    """MAML inner SGD steps (training and test)."""
    maml_inner_lr: float = 0.1
    """MAML inner learning rate."""
    ft_steps: int = 100
    """Fine-tuning baseline: Adam steps on the target supports."""
    nn_steps: int = 300
    """Neural DRE per task: Adam steps on the supports."""
    nn_lr: float = 1e-3
    """Learning rate of the per-task and fine-tuning Adam steps."""
    nn_weight_decay: float = 1e-4
    """Weight decay of the per-task and fine-tuning Adam steps."""
    n_test_tasks: int = 1000
    """Test tasks (identical for every method)."""
    dtype: str = "float32"
    """Floating type of the networks and task tensors: float32 | float64 (float64 makes meta-training much less
    sensitive to the CPU's kernels, README "Drift"; the data are float32 either way)."""
    init_lambda: float = 0.1
    """Initial value of the meta-learned ridge penalty lambda of the closed form (softplus-parametrised)."""
    kernel_sigma_factors: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    """Kernel baselines (RuLSIF, uLSIF, KLIEP): Gaussian widths tried by cross-validation, as multiples of the
    median pairwise distance of S_A and S_B."""
    kernel_lambdas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
    """RuLSIF / uLSIF: ridge penalties tried by cross-validation."""
    kernel_folds: int = 5
    """Kernel baselines: cross-validation folds (capped by the support size)."""
    kernel_centers: int = 100
    """Kernel baselines: at most this many Gaussian centres, drawn from S_A."""

    def method_list(self) -> list[str]:
        return [m.strip() for m in self.methods.split(",") if m.strip()]

    def validate(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        bad = [m for m in self.method_list() if m not in METHODS]
        if bad or not self.method_list():
            raise ConfigError(f"unknown method(s) {bad}; valid: {', '.join(METHODS)}")
        if not 0.0 <= self.alpha < 1.0:
            raise ConfigError(f"alpha must be in [0, 1), got {self.alpha}")
        if self.n_support < 2 or self.n_query < 1:
            raise ConfigError(f"n_support must be >= 2 and n_query >= 1, got {self.n_support}, {self.n_query}")
        if not 2 <= self.train_support_min <= self.train_support_max:
            raise ConfigError("need 2 <= train_support_min <= train_support_max, got "
                             f"{self.train_support_min}, {self.train_support_max}")
        if not 0.0 < self.contamination < 1.0:
            raise ConfigError(f"contamination must be in (0, 1), got {self.contamination}")
        if self.mixture not in ("independent", "overlap"):
            raise ConfigError(f"mixture must be 'independent' or 'overlap', got {self.mixture!r}")
        if not 0.0 <= self.val_frac < 1.0 or self.class_test_frac + self.val_frac >= 1.0:
            raise ConfigError(f"need 0 <= val_frac and class_test_frac + val_frac < 1, got {self.val_frac}")
        if self.tune and self.val_frac <= 0.0:
            raise ConfigError("tune needs a validation pool: set val_frac > 0")
        if self.lambda_scale <= 0 or self.kernel_sigma_scale <= 0 or self.maml_test_steps < 0:
            raise ConfigError("lambda_scale and kernel_sigma_scale must be > 0, maml_test_steps >= 0")
        if self.pair_split not in ("classes", "rows"):
            raise ConfigError(f"pair_split must be 'classes' or 'rows', got {self.pair_split!r}")
        if not 0.0 < self.class_test_frac < 1.0 or not 0.0 < self.row_test_frac < 1.0:
            raise ConfigError("class_test_frac and row_test_frac must be in (0, 1)")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.split_seed < -1:
            raise ConfigError(f"split_seed must be -1 (from the run seed) or >= 0, got {self.split_seed}")
        if self.init_lambda <= 0 or not self.kernel_sigma_factors or not self.kernel_lambdas:
            raise ConfigError("init_lambda must be > 0 and the kernel CV grids non-empty")
        if min(self.kernel_sigma_factors) <= 0 or min(self.kernel_lambdas) <= 0:
            raise ConfigError("kernel_sigma_factors and kernel_lambdas must be > 0")
        if self.kernel_folds < 2:
            raise ConfigError(f"kernel_folds must be >= 2, got {self.kernel_folds}")
        for k in ("lr", "nn_lr", "maml_inner_lr"):
            if not getattr(self, k) > 0:
                raise ConfigError(f"{k} must be > 0, got {getattr(self, k)}")
        if self.nn_weight_decay < 0 or self.nn_steps < 0 or self.ft_steps < 0 or self.maml_inner_steps < 0:
            raise ConfigError("nn_weight_decay, nn_steps, ft_steps and maml_inner_steps must be >= 0")
        for k in ("meta_iters", "meta_batch", "maml_iters", "n_test_tasks", "hidden", "embed_dim", "set_dim",
                  "kernel_centers", "n_hidden", "n_val_tasks"):
            if getattr(self, k) < 1:
                raise ConfigError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.task == "comparison" and self.n_test_tasks < 2:
            raise ConfigError("comparison needs n_test_tasks >= 2 (same and shifted pairs)")


# threads=1: the networks are tiny, so one thread is fastest and a second one only spins (on a
# shared machine it made meta-training ~20x slower in our measurements). float64: in float32 the
# meta-trained models depend on the CPU's kernels (AVX2 vs AVX-512 moved a MAML AUC by 2.6 points);
# in float64 the same cells agree to 4e-16 (README, "Drift") at no extra cost for these tiny networks.
QUICK = {"threads": 1, "dtype": "float64", "dataset": "digits", "hidden": 64, "embed_dim": 32, "set_dim": 32, "meta_iters": 600, "meta_batch": 8,
         "maml_iters": 300, "maml_inner_steps": 3, "nn_steps": 150, "ft_steps": 50, "n_test_tasks": 30}
SMOKE = {"meta_iters": 20, "maml_iters": 5, "nn_steps": 10, "ft_steps": 5, "n_test_tasks": 4, "n_query": 10,
         "n_support": 10, "train_support_max": 20}
