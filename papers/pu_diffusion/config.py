"""Configuration of one PU-diffusion run. Defaults = the paper's MNIST_even setting (official settings.py)."""

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

DATASETS = ("mnist", "fashion_mnist", "cifar10", "stl10")
SAMPLERS = ("ddpm", "ddim")
# Normal classes of each named partition (official settings.py; fashion_mnist is our quick stand-in).
PARTITIONS = {
    ("mnist", "even"): (0, 2, 4, 6, 8), ("mnist", "odd"): (1, 3, 5, 7, 9),
    ("cifar10", "vehicles"): (0, 1, 8, 9), ("cifar10", "animals"): (2, 3, 4, 5, 6, 7),
    ("stl10", "vehicles"): (0, 2, 8, 9), ("stl10", "animals"): (1, 3, 4, 5, 6, 7),
    ("fashion_mnist", "clothes"): (0, 1, 2, 3, 4, 6, 8),
}


# Images per class (0..9) of the official train / test splits: an impossible split size fails in validate().
CLASS_COUNTS = {
    "mnist": ((5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
              (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)),
    "fashion_mnist": ((6000,) * 10, (1000,) * 10),
    "cifar10": ((5000,) * 10, (1000,) * 10),
    "stl10": ((500,) * 10, (800,) * 10),
}


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "mnist"
    """Dataset: mnist | fashion_mnist | cifar10 | stl10 (full: the paper's MNIST, CIFAR-10, STL-10)."""
    normal: str = "even"
    """Named normal/sensitive partition (official config names): mnist even|odd, cifar10/stl10
    vehicles|animals, fashion_mnist clothes (footwear = sandal, sneaker, ankle boot sensitive)."""
    method: str = "pu"
    """unsupervised | supervised | pu (absolute-value PU risk) | pu_nn (non-negative PU risk)."""
    beta: float = 0.1
    """PU class-prior hyperparameter beta (paper default 0.1; used by pu and pu_nn only)."""
    n_unlabeled_normal: int = 25000
    """Unlabelled normal training examples (MNIST: 25,000)."""
    n_unlabeled_sensitive: int = 2500
    """Unlabelled sensitive training examples mixed into the unlabelled set (MNIST: 2,500)."""
    n_labeled_sensitive: int = 2500
    """Labelled sensitive (positive) training examples (MNIST: 2,500)."""
    n_test: int = 4926
    """Real normal test images used as the FID reference (MNIST_even: 4,926)."""
    image_size: int = 32
    """Side of the (square) training images; MNIST is resized 28 -> 32 as in the official code."""
    in_channels: int = 3
    """Image channels; the official code replicates MNIST to 3 channels (Grayscale(3))."""
    block_out_channels: tuple[int, ...] = (128, 128, 256, 512)
    """UNet channels per resolution level (official: 128, 128, 256, 512)."""
    layers_per_block: int = 2
    """ResNet blocks per UNet level (official: 2)."""
    attn_levels: tuple[int, ...] = (2,)
    """UNet levels with self-attention (official: AttnDownBlock2D/AttnUpBlock2D at level 2)."""
    norm_groups: int = 32
    """GroupNorm groups in the UNet (diffusers default 32); must divide every block_out_channels entry."""
    num_train_timesteps: int = 1000
    """Diffusion steps T (linear betas 1e-4..0.02)."""
    num_epochs: int = 100
    """Training epochs (official: 100)."""
    batch_size: int = 128
    """Mini-batch size (official: 128 for MNIST/CIFAR-10, 32 for STL-10)."""
    learning_rate: float = 1e-4
    """AdamW learning rate (official: 1e-4)."""
    num_warmup_steps: int = 500
    """Linear warm-up steps of the cosine learning-rate schedule (official: 500)."""
    grad_clip: float = 1.0
    """Gradient-norm clipping (official: 1.0)."""
    sampler: str = "ddpm"
    """ddpm (the paper's ancestral sampler) | ddim (deterministic, faster; an option)."""
    num_inference_steps: int = 0
    """Sampling steps; 0 = all T steps (the paper's 1000-step DDPM)."""
    n_generate: int = 5000
    """Generated images per run for the non-sensitive rate and FID."""
    judge_epochs: int = 5
    """Epochs of the judge / FID-feature CNN trained on the real labelled training set (cached)."""
    judge_train_size: int = 0
    """Real training images for the judge (0 = the whole training split)."""
    judge_lr: float = 3e-3
    """Peak learning rate of the judge's one-cycle Adam schedule (ours: the paper's judge is not described)."""
    judge_batch: int = 128
    """Mini-batch size of the judge's training."""
    judge_seed: int = 0
    """Seed of the judge CNN (its subset, order and initialisation). Fixed across run seeds on purpose: one
    ruler measures every method and seed, so the seed-paired comparisons are not blurred by the judge."""
    fid_features: str = "judge"
    """judge (penultimate layer of our CNN trained on real data) | inception (torchvision Inception-v3
    pool features; needs ``inception_weights``)."""
    inception_weights: str = ""
    """Path to torchvision inception_v3 ImageNet weights (state dict) for fid_features=inception."""
    n_grid: int = 64
    """Generated images saved as a sample grid per run (0 = none)."""
    pretrained: str = ""
    """Fine-tune a pretrained diffusers pipeline instead of training a fresh UNet (the official main_ft.py):
    a hub id such as google/ddpm-cifar10-32 (downloaded on first use) or a local save_pretrained folder;
    its UNet and noise scheduler replace block_out_channels ... num_train_timesteps. '' = from scratch."""

    @property
    def normal_classes(self) -> tuple[int, ...]:
        return PARTITIONS[(self.dataset, self.normal)]

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        from .baselines import METHODS
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {tuple(METHODS)}, got {self.method!r}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if not 0.0 <= self.beta < 1.0:
            raise ConfigError(f"beta must be in [0, 1), got {self.beta}")
        if (self.dataset, self.normal) not in PARTITIONS:
            valid = [n for d, n in PARTITIONS if d == self.dataset]
            raise ConfigError(f"normal={self.normal!r} is not a partition of {self.dataset}; valid: {valid}")
        for k in ("n_unlabeled_normal", "n_labeled_sensitive", "n_test", "num_epochs", "batch_size",
                  "n_generate", "judge_epochs", "image_size", "judge_batch"):
            if getattr(self, k) < 1:
                raise ConfigError(f"{k} must be >= 1, got {getattr(self, k)}")
        if not self.judge_lr > 0 or not self.learning_rate > 0:
            raise ConfigError(f"judge_lr and learning_rate must be > 0, got {self.judge_lr}, {self.learning_rate}")
        if self.n_unlabeled_sensitive < 0:
            raise ConfigError(f"n_unlabeled_sensitive must be >= 0, got {self.n_unlabeled_sensitive}")
        if self.n_generate < 2:
            raise ConfigError("n_generate must be >= 2 for FID")
        levels = len(self.block_out_channels)
        if self.image_size % (2 ** (levels - 1)):
            raise ConfigError(f"image_size {self.image_size} must be divisible by 2^(levels-1) = {2 ** (levels - 1)}")
        if any(c % self.norm_groups for c in self.block_out_channels) or self.norm_groups < 1:
            raise ConfigError(f"block_out_channels {self.block_out_channels} must be divisible by norm_groups "
                              f"{self.norm_groups}")
        if any(not 0 <= a < levels for a in self.attn_levels):
            raise ConfigError(f"attn_levels {self.attn_levels} must index the {levels} UNet levels")
        if not 0 <= self.num_inference_steps <= self.num_train_timesteps:
            raise ConfigError(f"num_inference_steps must be in [0, {self.num_train_timesteps}]")
        self._validate_split_sizes()
        if self.fid_features not in ("judge", "inception"):
            raise ConfigError(f"fid_features must be 'judge' or 'inception', got {self.fid_features!r}")
        if self.fid_features == "inception" and not self.inception_weights:
            raise ConfigError("fid_features=inception needs inception_weights (path to the torchvision "
                             "inception_v3 ImageNet state dict); they cannot be downloaded here")


    def _validate_split_sizes(self) -> None:
        """The PU split and the FID reference must fit in the official splits (class counts above)."""
        train, test = CLASS_COUNTS[self.dataset]
        normal = set(self.normal_classes)
        n_norm = sum(c for k, c in enumerate(train) if k in normal)
        n_sens = sum(c for k, c in enumerate(train) if k not in normal)
        n_test = sum(c for k, c in enumerate(test) if k in normal)
        if self.n_unlabeled_normal > n_norm:
            raise ConfigError(f"n_unlabeled_normal={self.n_unlabeled_normal} but the {self.dataset} training split "
                              f"has only {n_norm} normal images ({self.normal})")
        if self.n_labeled_sensitive + self.n_unlabeled_sensitive > n_sens:
            raise ConfigError(f"n_labeled_sensitive + n_unlabeled_sensitive = "
                              f"{self.n_labeled_sensitive + self.n_unlabeled_sensitive} but the {self.dataset} training "
                              f"split has only {n_sens} sensitive images ({self.normal})")
        if self.n_test > n_test:
            raise ConfigError(f"n_test={self.n_test} but the {self.dataset} test split has only {n_test} normal images")


# Quick profile (CPU, 2 cores): Fashion-MNIST, footwear (sandal 5, sneaker 7, ankle boot 9) sensitive,
# the same 10 : 1 : 1 split proportions scaled down, 16x16 grey images, a small UNet2DModel (6 epochs), 10-step DDIM
# sampling of 2,000 images per run, FID against 2,000 real normal test images.
# threads=1: fixed, so a rerun on any machine uses the same kernels' partitioning; on a shared machine two
# spin-waiting threads per cell ran 15x slower than one. Both cores: EXECUTOR=local JOBS=2 (two cells at once).
QUICK = {
    "threads": 1,
    "dataset": "fashion_mnist",
    "normal": "clothes",
    "n_unlabeled_normal": 2500,
    "n_unlabeled_sensitive": 250,
    "n_labeled_sensitive": 250,
    "n_test": 2000,
    "image_size": 16,
    "in_channels": 1,
    "block_out_channels": (16, 32, 32),
    "layers_per_block": 1,
    "attn_levels": (),
    "norm_groups": 8,
    "num_epochs": 6,
    "batch_size": 64,
    "learning_rate": 2e-3,
    "num_warmup_steps": 20,
    "sampler": "ddim",
    "num_inference_steps": 10,
    "n_generate": 2000,
    "judge_epochs": 2,
    "judge_train_size": 20000,
    "n_grid": 64,
}
SMOKE = {
    "n_unlabeled_normal": 100, "n_unlabeled_sensitive": 10, "n_labeled_sensitive": 10, "n_test": 64,
    "num_epochs": 1, "batch_size": 32, "num_inference_steps": 3, "n_generate": 16, "judge_epochs": 1,
    "judge_train_size": 256, "block_out_channels": (8, 16), "n_grid": 16, "num_warmup_steps": 2,
}
