"""Architectures: the denoiser (diffusers' ``UNet2DModel``, as the official code) and the judge / feature CNN.

``build_unet`` configures ``diffusers.UNet2DModel`` like the official code: ``layers_per_block=2``,
``block_out_channels=(128, 128, 256, 512)``, down blocks Down/Down/AttnDown/Down and up blocks
Up/AttnUp/Up/Up (attention at the levels listed in ``attn_levels``), GroupNorm(``norm_groups``); the
quick profile uses a narrower, shallower instance. ``load_pretrained`` loads the UNet and the noise
scheduler of a pretrained diffusers pipeline (``google/ddpm-cifar10-32`` for the official fine-tuning
script ``main_ft.py``; a hub id, downloaded on first use, or a local folder written by
``save_pretrained``).

``JudgeCNN`` is the classifier that decides whether a generated image is sensitive; its penultimate
layer is also the feature space of our FID (Inception weights cannot be downloaded here).
"""

from __future__ import annotations

from diffusers import DDPMScheduler, UNet2DModel
from torch import nn


def build_unet(in_channels: int = 3, image_size: int = 32, block_out_channels=(128, 128, 256, 512),
               layers_per_block: int = 2, attn_levels=(2,), norm_groups: int = 32) -> UNet2DModel:
    """eps_theta(x_t, t): a fresh ``UNet2DModel``; ``attn_levels`` lists the resolution levels with attention."""
    chs = tuple(block_out_channels)
    if any(c % norm_groups for c in chs):
        raise ValueError(f"block_out_channels {chs} must be divisible by norm_groups {norm_groups}")
    n = len(chs)
    down = tuple("AttnDownBlock2D" if i in attn_levels else "DownBlock2D" for i in range(n))
    up = tuple("AttnUpBlock2D" if n - 1 - j in attn_levels else "UpBlock2D" for j in range(n))
    return UNet2DModel(sample_size=image_size, in_channels=in_channels, out_channels=in_channels,
                       block_out_channels=chs, layers_per_block=layers_per_block, down_block_types=down,
                       up_block_types=up, norm_num_groups=norm_groups)


def load_pretrained(name: str) -> tuple[UNet2DModel, DDPMScheduler]:
    """The UNet and the DDPM noise scheduler of a pretrained diffusers pipeline (hub id or local folder)."""
    from diffusers import DDPMPipeline

    pipe = DDPMPipeline.from_pretrained(name, low_cpu_mem_usage=False)   # no accelerate needed
    return pipe.unet, DDPMScheduler.from_config(pipe.scheduler.config)


class JudgeCNN(nn.Module):
    """Small VGG-style classifier; ``features`` (penultimate layer before its ReLU, ``feat_dim``) is the
    FID feature space (pre-activation, so no dead coordinates make the covariance singular)."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, width: int = 32, feat_dim: int = 128):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, feat_dim))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feat_dim, n_classes))

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))
