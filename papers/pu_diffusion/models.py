"""Architectures: a UNet built like diffusers' ``UNet2DModel`` and the judge / feature CNN.

``UNet`` follows the block structure of ``diffusers.UNet2DModel`` as the official code configures it
(``layers_per_block=2``, ``block_out_channels=(128, 128, 256, 512)``, down blocks
Down/Down/AttnDown/Down, up blocks Up/AttnUp/Up/Up, sinusoidal time embedding -> 2-layer MLP of width
4 x the first block's channels, ResNet blocks with GroupNorm + SiLU and an added time projection,
single-level self-attention with head dimension 8, mid block ResNet-Attention-ResNet, stride-2 conv
down-sampling, nearest x2 + conv up-sampling). It is our own implementation (no diffusers dependency),
so parameter names and initialisation differ; the quick profile uses a narrower, shallower instance.

``JudgeCNN`` is the classifier that decides whether a generated image is sensitive; its penultimate
layer is also the feature space of our FID (Inception weights cannot be downloaded here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .method import timestep_embedding


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, groups: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, cin), cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(min(groups, cout), cout, eps=1e-5)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    def __init__(self, ch: int, groups: int, head_dim: int = 8):
        super().__init__()
        self.heads = max(1, ch // head_dim)
        self.norm = nn.GroupNorm(min(groups, ch), ch, eps=1e-5)
        self.qkv = nn.Linear(ch, 3 * ch)
        self.out = nn.Linear(ch, ch)

    def forward(self, x):
        b, c, h, w = x.shape
        z = self.norm(x).flatten(2).transpose(1, 2)                        # (b, hw, c)
        q, k, v = self.qkv(z).view(b, h * w, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, h * w, c)
        return x + self.out(a).transpose(1, 2).view(b, c, h, w)


class UNet(nn.Module):
    """eps_theta(x_t, t): UNet2DModel-like. ``attn_levels`` lists the resolution levels with attention."""

    def __init__(self, in_channels: int = 3, block_out_channels=(128, 128, 256, 512), layers_per_block: int = 2,
                 attn_levels=(2,), norm_groups: int = 32, dropout: float = 0.0):
        super().__init__()
        chs = tuple(block_out_channels)
        if any(c % min(norm_groups, c) for c in chs):
            raise ValueError(f"block_out_channels {chs} must be divisible by norm_groups {norm_groups}")
        self.base = chs[0]
        temb = 4 * chs[0]
        self.time_mlp = nn.Sequential(nn.Linear(chs[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_channels, chs[0], 3, padding=1)
        self.down = nn.ModuleList()
        skip_chs = [chs[0]]
        cur = chs[0]
        for i, c in enumerate(chs):
            level = nn.ModuleList()
            for _ in range(layers_per_block):
                level.append(ResnetBlock(cur, c, temb, norm_groups, dropout))
                cur = c
                level.append(AttentionBlock(c, norm_groups) if i in attn_levels else nn.Identity())
                skip_chs.append(c)
            if i < len(chs) - 1:
                level.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skip_chs.append(c)
            self.down.append(level)
        self.mid = nn.ModuleList([ResnetBlock(cur, cur, temb, norm_groups, dropout), AttentionBlock(cur, norm_groups),
                                  ResnetBlock(cur, cur, temb, norm_groups, dropout)])
        self.up = nn.ModuleList()
        n_levels = len(chs)
        for j, c in enumerate(reversed(chs)):
            i = n_levels - 1 - j
            level = nn.ModuleList()
            for _ in range(layers_per_block + 1):
                level.append(ResnetBlock(cur + skip_chs.pop(), c, temb, norm_groups, dropout))
                cur = c
                level.append(AttentionBlock(c, norm_groups) if i in attn_levels else nn.Identity())
            if i > 0:
                level.append(nn.Conv2d(c, c, 3, padding=1))   # after nearest x2 up-sampling
            self.up.append(level)
        self.norm_out = nn.GroupNorm(min(norm_groups, cur), cur, eps=1e-5)
        self.conv_out = nn.Conv2d(cur, in_channels, 3, padding=1)
        self.layers_per_block = layers_per_block
        self.n_levels = n_levels

    def forward(self, x, t):
        emb = self.time_mlp(timestep_embedding(t, self.base))
        h = self.conv_in(x)
        skips = [h]
        for i, level in enumerate(self.down):
            for k in range(self.layers_per_block):
                h = level[2 * k + 1](level[2 * k](h, emb))
                skips.append(h)
            if i < self.n_levels - 1:
                h = level[-1](h)
                skips.append(h)
        h = self.mid[0](h, emb)
        h = self.mid[1](h)
        h = self.mid[2](h, emb)
        for j, level in enumerate(self.up):
            for k in range(self.layers_per_block + 1):
                h = level[2 * k + 1](level[2 * k](torch.cat([h, skips.pop()], 1), emb))
            if j < self.n_levels - 1:
                h = level[-1](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


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
