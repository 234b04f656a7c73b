"""Configuration of meta_annotators: one method, one dataset, one seed (one cell).

A cell meta-trains once (meta-learned methods) and evaluates on every test setting of the dataset:
synthetic-annotator datasets on (support shots K, annotators J) pairs ``test_shots`` x {n_annotators} and
{k_shot} x ``test_annotators``; real-crowd datasets on one setting (their real annotators).
Defaults are our full (GPU) profile; ``QUICK`` is the CPU profile; ``SMOKE`` makes a cell take seconds.
The paper could be read only up to its abstract: every numeric default is ours (README, "Reconstructed").
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

PROPOSED = ("proposed", "proposed_noannot")
META_METHODS = PROPOSED + ("protonet_mv",)
TWO_STAGE = ("mv_clf", "ds_clf", "glad_clf", "mace_clf")
METHODS = META_METHODS + ("em_fixed", "crowdlayer") + TWO_STAGE
SYNTHETIC = ("omniglot_small", "omniglot", "fmnist", "miniimagenet")
REAL = ("labelme", "music", "sentiment")
DATASETS = SYNTHETIC + REAL


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "omniglot"
    """Synthetic annotators on real classes: omniglot_small (shared copy: 8 alphabets), omniglot (50 alphabets),
    fmnist, miniimagenet (features from ``$REPRO_DATA/miniimagenet/features.npz``). Real crowds: labelme (59
    annotators, VGG16 features), music (44), sentiment (203; TF-IDF + SVD of the sentences)."""
    method: str = "proposed"
    """proposed (meta-learned MAP-EM) | proposed_noannot (ablation: same classifier on soft majority votes) |
    protonet_mv (ProtoNet meta-trained on majority-vote labels) | em_fixed (the MAP-EM on the fixed input features) |
    crowdlayer (Rodrigues & Pereira 2018, per task) | mv_clf / ds_clf / glad_clf / mace_clf (crowd-kit aggregation,
    then logistic regression on the input features)."""
    n_way: int = 5
    """Classes per task (N)."""
    k_shot: int = 5
    """Support instances per class (K) of the base test setting and of meta-training (real crowds: the only one)."""
    n_annotators: int = 5
    """Annotators (J) of the base test setting (synthetic) and of meta-training."""
    test_shots: tuple[int, ...] = (2, 5, 10)
    """Synthetic test settings: support shots K, each with J = n_annotators."""
    test_annotators: tuple[int, ...] = (3, 10)
    """Synthetic test settings: annotators J, each with K = k_shot."""
    labels_per_item: int = 0
    """Annotations per support instance (distinct random annotators); 0 = every annotator labels every instance."""
    acc_low: float = 0.1
    """Simulated annotators: accuracy p(label = class) ~ U(acc_low, acc_high), wrong labels ~ Dir(1) per row."""
    acc_high: float = 0.7
    """Upper end of the simulated annotators' accuracies."""
    n_query: int = 15
    """Query instances per class (clean labels; meta-training loss and test accuracy)."""
    n_test_tasks: int = 200
    """Test tasks per setting (the same for every method of a seed)."""
    test_frac: float = 0.3
    """Synthetic datasets: fraction of the classes (Omniglot: alphabets) held out for test tasks."""
    pca_dim: int = 64
    """Input features: this many principal components fitted on meta-training rows (0 = raw features)."""
    hidden: int = 256
    """Encoder: width of its two hidden ReLU layers."""
    latent_dim: int = 32
    """Encoder output dimension d."""
    em_steps: int = 10
    """EM iterations unrolled in adaptation (meta-training and test)."""
    alpha_diag: float = 3.0
    """Dirichlet prior concentration on a confusion row's correct label (initial value when meta-learned)."""
    alpha_off: float = 1.5
    """Dirichlet concentration on each wrong label (initial value when meta-learned)."""
    var_shape: float = 1.0
    """Inverse-gamma prior on the shared variance: shape a0."""
    var_scale: float = 0.01
    """Inverse-gamma prior on the shared variance: scale b0 (per latent dimension: b0 * d)."""
    meta_iters: int = 10000
    """Meta-training iterations."""
    meta_batch: int = 8
    """Tasks per meta-training iteration."""
    lr: float = 1e-3
    """Adam learning rate (meta-training, CrowdLayer)."""
    crowdlayer_steps: int = 300
    """CrowdLayer: full-batch Adam steps per task."""
    crowdlayer_wd: float = 1e-3
    """CrowdLayer: weight decay of the classifier (annotator matrices start at the identity)."""
    clf_c: float = 1.0
    """Logistic regression (two-stage baselines): inverse L2 strength C."""
    agg_iters: int = 100
    """crowd-kit aggregators: EM / gradient iterations (MACE: restarts = 1 + agg_iters // 50)."""

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.n_way < 2 or self.k_shot < 1 or self.n_annotators < 1 or self.n_query < 1 or self.n_test_tasks < 1:
            raise ConfigError("need n_way >= 2, k_shot, n_annotators, n_query, n_test_tasks >= 1")
        if not self.test_shots or min(self.test_shots) < 1 or not self.test_annotators or min(self.test_annotators) < 1:
            raise ConfigError("test_shots and test_annotators must be non-empty lists of positive integers")
        if self.labels_per_item < 0 or self.labels_per_item > self.n_annotators:
            raise ConfigError(f"labels_per_item must be in [0, n_annotators={self.n_annotators}], got "
                              f"{self.labels_per_item}")
        if not 0.0 <= self.acc_low <= self.acc_high <= 1.0:
            raise ConfigError(f"need 0 <= acc_low <= acc_high <= 1, got {self.acc_low}, {self.acc_high}")
        if not 0.0 < self.test_frac < 1.0:
            raise ConfigError(f"test_frac must be in (0, 1), got {self.test_frac}")
        if self.pca_dim < 0 or self.hidden < 1 or self.latent_dim < 1 or self.em_steps < 0:
            raise ConfigError("pca_dim >= 0, hidden >= 1, latent_dim >= 1 and em_steps >= 0 are required")
        if self.alpha_diag <= 1.0 or self.alpha_off <= 1.0:
            raise ConfigError("alpha_diag and alpha_off must be > 1 (the Dirichlet MAP needs a mode inside the simplex)")
        if self.var_shape <= 0 or self.var_scale <= 0:
            raise ConfigError("var_shape and var_scale must be > 0")
        if self.meta_iters < 1 or self.meta_batch < 1 or self.crowdlayer_steps < 1 or self.agg_iters < 1:
            raise ConfigError("meta_iters, meta_batch, crowdlayer_steps and agg_iters must be >= 1")


QUICK = {"threads": 1, "hidden": 128, "latent_dim": 32, "meta_iters": 600, "meta_batch": 4, "n_test_tasks": 30,
         "em_steps": 5,
         "crowdlayer_steps": 150, "agg_iters": 20}
SMOKE = {"threads": 1, "hidden": 16, "latent_dim": 4, "pca_dim": 8, "meta_iters": 3, "meta_batch": 2,
         "n_test_tasks": 2, "test_shots": (2,), "test_annotators": (3,), "crowdlayer_steps": 3, "agg_iters": 2,
         "em_steps": 2, "n_query": 3}
