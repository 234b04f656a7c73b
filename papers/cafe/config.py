"""Configuration of the CAFe reproduction. Defaults = the paper's CIFAR-10-C setting (full profile);
``QUICK`` = the CPU profile on real offline data; ``SMOKE`` = seconds, for tests."""

from dataclasses import dataclass

from common.config import BaseConfig

from .baselines import METHODS
from .method import DIVERGENCES

DATASETS = ("cifar10sub", "fmnist", "cifar10", "cifar100", "imagenet")
STREAMS = ("single", "mixed")


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "cifar10"
    """Target benchmark. Full: cifar10 (CIFAR-10-C), cifar100 (CIFAR-100-C), imagenet (ImageNet-C).
    Quick: cifar10sub (the 15k-image CIFAR-10 JPEG subset, corrupted here), fmnist (Fashion-MNIST, corrupted here)."""
    method: str = "cafe"
    """source | bn | tent | pl | shot_im | tfa | cafe | cafe_symkl (CAFe with the symmetric KL instead of JS) |
    cafe_nogroup (CAFe without feature grouping)."""
    stream: str = "single"
    """'single': each corruption is its own test stream (model reset between corruptions);
    'mixed': the 15 corruptions shuffled together into one stream (the paper's multiple-corruption setting)."""
    severity: int = 5
    """Corruption severity 1..5 (5 = the most severe, the usual CIFAR-10-C report)."""
    n_per_corruption: int = 10000
    """Test images per corruption (CIFAR-10-C has 10,000; quick draws fewer, class-balanced-at-random)."""
    batch_size: int = 256
    """Test batch size (paper: 256)."""
    lr: float = 1e-3
    """Learning rate of the test-time optimiser for every adapting method."""
    optimizer: str = "adam"
    """Test-time optimiser: adam (Tent's CIFAR setting, betas 0.9/0.999) or sgd."""
    momentum: float = 0.9
    """Momentum of the test-time optimiser when optimizer=sgd."""
    steps: int = 1
    """Gradient steps per test batch."""
    n_groups: int = 128
    """k, the number of feature groups from spectral clustering (reading note: k = 128 for the paper's ResNets;
    with ResNet-50's d = 2048 that is groups of 16 dims)."""
    align_weight: float = 1.0
    """Weight of the alignment loss against the information-maximisation loss (not verified against the paper)."""
    cov_eps: float = 1e-3
    """Ridge eps*I added to source and target covariances before the divergence."""
    divergence: str = "js"
    """Gaussian divergence for CAFe: js (Jensen-Shannon, moment-matched approximation; method.py) | sym_kl |
    kl_source_target | kl_target_source. Method cafe_symkl forces sym_kl (the ablation)."""
    arch: str = "resnet"
    """Source architecture of the 32x32 benchmarks: resnet (CIFAR ResNet, ``depth``/``width``) or cnn (the quick
    profile's four-layer BN CNN, stages 16/32/64/64 x ``width``). ImageNet always uses torchvision's ResNet-50."""
    depth: int = 26
    """Depth of the CIFAR ResNet (6n+2; paper: ResNet-26 for CIFAR). ImageNet uses torchvision ResNet-50."""
    width: int = 4
    """Width multiplier of the CIFAR ResNet (stages 16/32/64 x width; feature dim 64 x width)."""
    source_epochs: int = 200
    """Epochs of source training (clean train set, SGD with Nesterov momentum, one-cycle cosine lr, crop+flip)."""
    source_augment: bool = True
    """Random crop (4-px padding) + horizontal flip during source training."""
    source_lr: float = 0.1
    """Peak learning rate of source training."""
    source_batch_size: int = 128
    """Batch size of source training."""
    source_momentum: float = 0.9
    """Nesterov momentum of source training (SGD)."""
    source_weight_decay: float = 5e-4
    """Weight decay of source training (the usual CIFAR ResNet value)."""
    source_warmup_frac: float = 0.15
    """Fraction of source-training steps spent in the linear lr warm-up before the cosine decay."""
    n_source_train: int = 0
    """Source training images used (0 = all)."""
    imagenet_weights: str = ""
    """ImageNet only: path of torchvision ResNet-50 weights (IMAGENET1K_V1 .pth); '' = download."""
    n_stats: int = 0
    """Source images used for the pre-computed statistics (0 = all of the training set)."""
    stats_batch_size: int = 500
    """Batch size of the forward passes that compute the source statistics (no effect on their value
    beyond float summation order)."""

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {tuple(METHODS)}, got {self.method!r}")
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, got {self.stream!r}")
        if self.severity not in (1, 2, 3, 4, 5):
            raise ValueError(f"severity must be 1..5, got {self.severity}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (batch statistics), got {self.batch_size}")
        if self.n_per_corruption < self.batch_size:
            raise ValueError(f"n_per_corruption ({self.n_per_corruption}) must be >= batch_size ({self.batch_size})")
        n_max = {"imagenet": 50000, "cifar10sub": 5000}.get(self.dataset, 10000)   # cifar10sub: the 5k train split
        if self.n_per_corruption > n_max:
            raise ValueError(f"n_per_corruption must be <= {n_max} (test-set size), got {self.n_per_corruption}")
        d = 2048 if self.dataset == "imagenet" else 64 * self.width   # both archs end with 64 x width channels
        if self.n_groups < 1 or self.n_groups > d:
            raise ValueError(f"n_groups must be in [1, feature dim {d}], got {self.n_groups}")
        if (self.depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2, got {self.depth}")
        if self.steps < 1 or self.lr <= 0 or self.source_epochs < 1:
            raise ValueError("steps, lr and source_epochs must be positive")
        if self.cov_eps < 0 or self.align_weight < 0:
            raise ValueError("cov_eps and align_weight must be >= 0")
        if self.source_batch_size < 1 or self.stats_batch_size < 2:
            raise ValueError("source_batch_size must be >= 1 and stats_batch_size >= 2")
        if not 0 < self.source_warmup_frac < 1 or self.source_weight_decay < 0 or not 0 <= self.source_momentum < 1:
            raise ValueError("source_warmup_frac must be in (0, 1), source_weight_decay >= 0, source_momentum in [0, 1)")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be adam or sgd, got {self.optimizer!r}")
        if self.divergence not in DIVERGENCES:
            raise ValueError(f"divergence must be one of {tuple(DIVERGENCES)}, got {self.divergence!r}")
        if self.arch not in ("resnet", "cnn"):
            raise ValueError(f"arch must be resnet or cnn, got {self.arch!r}")


# Quick (Fashion-MNIST; README "Quick profile"): the four-layer BN CNN (feature d = 64, tables/*.yaml); 1,000
# test images per corruption at severity 5, so a single-corruption stream is 16 batches and the mixed stream
# (15 x 1,000) 235; batch 64 = the paper's 256 / 4 (d = 64 <= batch, so the full target covariance is
# singular, as d = 2048 > 256 is in the paper); k = 4 groups of ~16 dims = d / 16, the paper's group size
# (2048 / 128).
# One torch thread and deterministic kernels: reruns are bit-identical on one machine (README: drift).
# The seed varies everything random (run.py): 3 seeds = 3 source models per dataset, each cached once.
QUICK = {"n_per_corruption": 1000, "batch_size": 64, "n_groups": 4, "threads": 1, "deterministic": True}
SMOKE = {"arch": "cnn", "n_per_corruption": 32, "batch_size": 16, "n_groups": 4, "source_epochs": 1,
         "n_source_train": 500, "n_stats": 500}
