"""The architectures of the LMC papers (Ainsworth et al., ICLR 2023; used by Ito et al., ICLR 2025).

- ``MLP``: ``n_hidden`` ReLU hidden layers of ``width`` units (paper: 3 x 512), linear output.
- ``VGG``: VGG-11 / VGG-16 with a channel width multiplier; every conv is followed by a
  per-pixel LayerNorm over channels and ReLU (the normalisation Ainsworth et al. use instead
  of BatchNorm, so interpolated models need no statistics repair).
- ``ResNet20``: the CIFAR ResNet-20 (3 groups x 3 basic blocks, 16/32/64 channels times the
  width multiplier), LayerNorm instead of BatchNorm, 1x1 conv + norm shortcut where the
  number of channels changes (as in the peer code).

Each model tells which modules' outputs carry each hidden permutation (``activation_sites``,
which activation matching needs) and which axes of its parameters each permutation acts on
(``permutation_spec``, :mod:`common.lmc.permutation`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.lmc.permutation import PermutationSpec, mlp_spec, resnet20_spec, vgg_spec


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of an (N, C, H, W) tensor, per pixel (flax LayerNorm on NHWC)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class MLP(nn.Module):
    def __init__(self, in_dim: int = 784, width: int = 512, n_hidden: int = 3, n_classes: int = 10):
        super().__init__()
        dims = [in_dim] + [width] * n_hidden + [n_classes]
        self.fc = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
        self.acts = nn.ModuleList(nn.ReLU() for _ in range(n_hidden))

    def forward(self, x):
        x = x.flatten(1)
        for lin, act in zip(self.fc[:-1], self.acts):
            x = act(lin(x))
        return self.fc[-1](x)

    def activation_sites(self) -> dict[str, list[nn.Module]]:
        return {f"P_{i}": [act] for i, act in enumerate(self.acts)}

    def permutation_spec(self) -> PermutationSpec:
        return mlp_spec(len(self.acts))


VGG_CFG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, name: str = "vgg11", width_mult: float = 1.0, in_ch: int = 3, n_classes: int = 10,
                 image_size: int = 32):
        super().__init__()
        self.convs, self.norms, self.acts = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.plan = []
        ch, size = in_ch, image_size
        for v in VGG_CFG[name]:
            if v == "M":
                self.plan.append("M")
                size //= 2
                continue
            out = max(1, int(round(v * width_mult)))
            self.convs.append(nn.Conv2d(ch, out, 3, padding=1))
            self.norms.append(ChannelLayerNorm(out))
            self.acts.append(nn.ReLU())
            self.plan.append("C")
            ch = out
        hidden = max(1, int(round(512 * width_mult)))
        self.dense = nn.ModuleList([nn.Linear(ch * size * size, hidden), nn.Linear(hidden, hidden),
                                    nn.Linear(hidden, n_classes)])
        self.dense_acts = nn.ModuleList([nn.ReLU(), nn.ReLU()])

    def forward(self, x):
        i = 0
        for step in self.plan:
            if step == "M":
                x = F.max_pool2d(x, 2)
            else:
                x = self.acts[i](self.norms[i](self.convs[i](x)))
                i += 1
        x = x.flatten(1)
        x = self.dense_acts[0](self.dense[0](x))
        x = self.dense_acts[1](self.dense[1](x))
        return self.dense[2](x)

    def activation_sites(self) -> dict[str, list[nn.Module]]:
        sites = {f"P_conv{i}": [a] for i, a in enumerate(self.acts)}
        sites.update({f"P_dense{i}": [a] for i, a in enumerate(self.dense_acts)})
        return sites

    def permutation_spec(self) -> PermutationSpec:
        return vgg_spec(len(self.convs))


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.norm1 = ChannelLayerNorm(out_ch)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.norm2 = ChannelLayerNorm(out_ch)
        self.has_shortcut = stride != 1 or in_ch != out_ch
        if self.has_shortcut:
            self.shortcut_conv = nn.Conv2d(in_ch, out_ch, 1, stride, bias=False)
            self.shortcut_norm = ChannelLayerNorm(out_ch)
        self.act2 = nn.ReLU()

    def forward(self, x):
        y = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        s = self.shortcut_norm(self.shortcut_conv(x)) if self.has_shortcut else x
        return self.act2(y + s)


class ResNet20(nn.Module):
    def __init__(self, width_mult: float = 1.0, in_ch: int = 3, n_classes: int = 10):
        super().__init__()
        w = [max(1, int(round(c * width_mult))) for c in (16, 32, 64)]
        self.conv1 = nn.Conv2d(in_ch, w[0], 3, 1, 1, bias=False)
        self.norm1 = ChannelLayerNorm(w[0])
        self.act1 = nn.ReLU()
        groups, ch = [], w[0]
        for g, out in enumerate(w):
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(ch, out, 2 if (g > 0 and b == 0) else 1))
                ch = out
            groups.append(nn.Sequential(*blocks))
        self.groups = nn.ModuleList(groups)
        self.linear = nn.Linear(ch, n_classes)

    def forward(self, x):
        x = self.act1(self.norm1(self.conv1(x)))
        for g in self.groups:
            x = g(x)
        return self.linear(x.mean(dim=(2, 3)))

    def activation_sites(self) -> dict[str, list[nn.Module]]:
        # The residual stream of group g carries one permutation; every block output in the
        # group (and the stem for group 0) is an observation of it.
        sites: dict[str, list[nn.Module]] = {"P_g0": [self.act1]}
        for g, group in enumerate(self.groups):
            sites.setdefault(f"P_g{g}", [])
            for b, block in enumerate(group):
                sites[f"P_g{g}"].append(block.act2)
                sites[f"P_g{g}_b{b}_inner"] = [block.act1]
        return sites

    def permutation_spec(self) -> PermutationSpec:
        return resnet20_spec()


def build_model(arch: str, width: int, width_mult: float, n_hidden: int, in_shape: tuple[int, ...],
                n_classes: int = 10) -> nn.Module:
    if arch == "mlp":
        in_dim = 1
        for d in in_shape:
            in_dim *= d
        return MLP(in_dim, width, n_hidden, n_classes)
    if arch in VGG_CFG:
        return VGG(arch, width_mult, in_shape[0], n_classes, in_shape[-1])
    if arch == "resnet20":
        return ResNet20(width_mult, in_shape[0], n_classes)
    raise ValueError(f"unknown arch {arch!r}; valid: mlp, vgg11, vgg16, resnet20")


def spec_for(model: nn.Module) -> PermutationSpec:
    """The permutation spec of a network that declares one (``permutation_spec()``)."""
    if not hasattr(model, "permutation_spec"):
        raise TypeError(f"no permutation spec for {type(model).__name__}")
    return model.permutation_spec()
