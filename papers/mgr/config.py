"""Configuration of mgr: one method, one dataset, one training fraction, one seed (one cell).

Defaults are our full (paper-scale, GPU) profile: ResNet-18 on one of the paper's six fine-grained datasets.
``QUICK`` is the CPU profile (Fashion-MNIST fractions, small CNN, short training); ``SMOKE`` makes a cell take
seconds for the tests. The paper could be read only up to its abstract, so every numeric default is ours
(README, "Reconstructed choices").
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig, ConfigError

METHODS = ("erm", "gda", "gda_cons", "pcr_uniform", "mgr")
SMALL = ("fmnist", "mnist", "cifar10_subset")
PAPER_DATASETS = ("cars", "aircraft", "birds", "dtd", "flowers", "pets")
DATASETS = SMALL + PAPER_DATASETS


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "cars"
    """fmnist | mnist | cifar10_subset (quick) | cars | aircraft | birds | dtd | flowers | pets (the paper's six;
    ours: our reading of its 'six datasets')."""
    method: str = "mgr"
    """erm (real data only) | gda (naive generative DA: synthetic images in the cross-entropy with their conditioning
    labels) | gda_cons (gda + PCR on the synthetic images) | pcr_uniform (PCR with latents from the prior: MGR
    without MPS) | mgr (PCR + meta pseudo sampling)."""
    train_frac: float = 1.0
    """Fraction of the official training split kept (stratified, redrawn per seed); it includes the validation
    split."""
    val_frac: float = 0.1
    """Fraction of the kept training images held out as the validation split (stratified, at least one per class).
    No method fits on it; MGR's meta pseudo sampling evaluates its look-ahead on it."""
    image_size: int = 128
    """Side of the (square) images of the full datasets after resizing (small datasets keep their size)."""
    arch: str = "resnet18"
    """Classifier: resnet18 (torchvision, from scratch) | cnn (models.SmallCNN)."""
    width: int = 16
    """Width of the small CNN's first layer."""
    steps: int = 20000
    """Classifier SGD steps."""
    batch_size: int = 64
    """Real images per classifier step."""
    lr: float = 0.05
    """Classifier SGD learning rate (momentum 0.9, Nesterov, cosine decay to 0)."""
    weight_decay: float = 5e-4
    """Classifier weight decay."""
    pad: int = 4
    """Random-shift augmentation (pixels, reflection padding) of every image the classifier sees; with a random
    horizontal flip."""
    syn_batch: int = 64
    """Synthetic images per classifier step (every method but erm)."""
    pcr_weight: float = 1.0
    """lambda of the PCR term (gda_cons, pcr_uniform, mgr)."""
    gda_weight: float = 1.0
    """Weight of the synthetic cross-entropy (gda, gda_cons)."""
    finder_every: int = 1
    """MGR: one finder update (Eq. MPS) every this many classifier steps."""
    finder_lr: float = 1e-4
    """MGR: Adam learning rate of the finder."""
    finder_hidden: int = 128
    """MGR: hidden width of the finder."""
    val_batch: int = 128
    """MGR: validation images per finder update (drawn from the validation split)."""
    generator: str = "cvae"
    """Generator trained in-run on the kept training images: cvae (models.ConditionalVAE)."""
    generator_weights: str = ""
    """Path of pre-trained generator weights (.safetensors or a tensors-only torch file) to load into the generator
    instead of training it (README, 'Plugging in a pre-trained generator')."""
    gen_latent: int = 16
    """Generator latent dimension."""
    gen_hidden: int = 512
    """Generator hidden width."""
    gen_steps: int = 20000
    """Generator Adam steps (batch 64, lr 1e-3)."""

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if not 0.0 < self.train_frac <= 1.0:
            raise ConfigError(f"train_frac must be in (0, 1], got {self.train_frac}")
        if not 0.0 < self.val_frac < 1.0:
            raise ConfigError(f"val_frac must be in (0, 1), got {self.val_frac}")
        if self.arch not in ("cnn", "resnet18"):
            raise ConfigError(f"arch must be cnn or resnet18, got {self.arch!r}")
        if self.generator != "cvae":
            raise ConfigError(f"generator must be cvae (plug others in through generator_weights), got {self.generator!r}")
        if min(self.steps, self.batch_size, self.syn_batch, self.finder_every, self.val_batch, self.gen_steps,
               self.gen_latent, self.gen_hidden, self.finder_hidden, self.width, self.image_size) < 1:
            raise ConfigError("steps, batch sizes, finder_every, gen_steps and the widths must be >= 1")
        if self.lr <= 0 or self.finder_lr <= 0 or self.pcr_weight < 0 or self.gda_weight < 0 or self.pad < 0:
            raise ConfigError("lr and finder_lr must be > 0; pcr_weight, gda_weight and pad >= 0")


QUICK = {"threads": 1, "dataset": "fmnist", "arch": "cnn", "steps": 500, "pad": 2, "gen_steps": 1500, "gen_hidden": 256,
         "syn_batch": 32, "finder_every": 5, "pcr_weight": 0.1}
SMOKE = {**QUICK, "steps": 6, "gen_steps": 20, "batch_size": 16, "syn_batch": 8, "val_batch": 16, "finder_every": 2,
         "width": 8}
