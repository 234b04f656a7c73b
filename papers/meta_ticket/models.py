"""Architectures of the paper's official code (dchiji-ntt/meta-ticket @ e9ca2c25, models/networks).

* :class:`FewShotMLP` -- ``models/networks/mlp.py``: Linear -> BatchNorm1d -> ReLU blocks with sizes
  ``[256, 128, 64, 64] x width factor`` for Omniglot (``[1024, 512, 256, 128]`` for the 5-layer
  CIFAR-FS MLP), then a linear classifier. BatchNorm uses batch statistics only
  (``track_running_stats=False``, eps 1e-3) and is affine, as in the official config.
* :class:`SinusoidMLP` -- ``models/sinusoid_base.py``: 1 -> 40 -> 40 -> 1 with ReLU.
* :class:`ResNet12` -- ``models/networks/networks_from_boil.py`` (``ResNet12_boil``, the BOIL / MetaOptNet
  ResNet-12 as the official code builds it: ``avg_pool=True, wh_size=1``, no DropBlock): four residual
  blocks of three 3x3 convs (no bias) with BatchNorm (batch statistics) and LeakyReLU(0.1), a 1x1 conv +
  BatchNorm shortcut, 2x2 max-pooling; channels 64-128-256-512 (BOIL's, not the 64-160-320-640 of
  MetaOptNet); global average pooling; linear classifier 512 -> ways.
* :class:`WRN28` -- ``models/networks/wrn28.py`` (learn2learn / FEAT WRN-28-k): 3x3 conv 16, three
  stages of 4 pre-activation wide blocks (16k, 32k, 64k channels, strides 1, 2, 2; convs with bias; 1x1
  conv shortcut where the shape changes), final BatchNorm + ReLU, average pooling, linear classifier
  64k -> ways. The official code pools with ``avg_pool2d(21)`` (the 21x21 map of 84x84 inputs); we pool
  adaptively to 1x1, which is the same at 84x84 and also works on the 32x32 quick stand-in.

Both CNNs take flattened images (as every data split here stores them) and reshape to ``in_shape``.
``width_factor`` (ResNet-12) scales every channel count; 1.0 is the paper's network, the quick profile
uses a narrow ResNet-12 as a CPU stand-in.

Initialisation follows the official code: every linear weight (classifier included) Kaiming-normal
(fan-in, ReLU gain), biases zero, BatchNorm weight 1 / bias 0.
"""

from __future__ import annotations

import torch
from torch import nn


def fan_in(shape) -> int:
    """fan_in of a weight: in_features (linear) or in_channels * kh * kw (conv), as torch.nn.init computes it."""
    shape = tuple(shape)
    if len(shape) < 2:
        return shape[0]
    n = shape[1]
    for k in shape[2:]:
        n *= k
    return n


def kaiming_normal_(weight: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """In-place Kaiming-normal (fan_in, ReLU gain) -- the paper's fixed random weights."""
    fan_in_ = fan_in(weight.shape)
    std = (2.0 / fan_in_) ** 0.5
    with torch.no_grad():
        weight.normal_(0.0, std, generator=generator)
    return weight


class LinearBlock(nn.Module):
    def __init__(self, d_in: int, d_out: int, bn: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.normalize = nn.BatchNorm1d(d_out, eps=1e-3, affine=True, track_running_stats=False) if bn else nn.Identity()
        kaiming_normal_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.normalize(self.linear(x)))


class FewShotMLP(nn.Module):
    """MLP of the official code. ``forward(x, return_features=True)`` also returns every block's output."""

    head_prefix = "classifier."

    def __init__(self, in_dim: int, n_out: int, sizes: list[int], bn: bool = True) -> None:
        super().__init__()
        dims = [in_dim] + list(sizes)
        self.features = nn.Sequential(*[LinearBlock(a, b, bn) for a, b in zip(dims[:-1], dims[1:])])
        self.classifier = nn.Linear(dims[-1], n_out)
        kaiming_normal_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        h = x.flatten(1)
        feats = []
        for block in self.features:
            h = block(h)
            feats.append(h)
        out = self.classifier(h)
        return (out, feats) if return_features else out


class SinusoidMLP(nn.Module):
    """1 -> hidden -> hidden -> 1, ReLU (official ``SinusoidMLP``; default init of nn.Linear kept,
    the sparse layer hidden2 is re-initialised Kaiming-normal by Meta-ticket as in SparseModule)."""

    head_prefix = "hidden3."

    def __init__(self, hidden: int = 40) -> None:
        super().__init__()
        self.hidden1 = nn.Linear(1, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.hidden3 = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        h1 = torch.relu(self.hidden1(x))
        h2 = torch.relu(self.hidden2(h1))
        out = self.hidden3(h2)
        return (out, [h1, h2]) if return_features else out


def mlp_sizes(base: str, width_factor: float) -> list[int]:
    """``"256,128,64,64"`` x factor -> ``[256f, 128f, 64f, 64f]`` (official: int(s * factor))."""
    try:
        sizes = [int(s) for s in base.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"hidden_sizes must be comma-separated integers, got {base!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError(f"hidden_sizes must be positive integers, got {base!r}")
    return [int(s * width_factor) for s in sizes]


# --------------------------------------------------------------------------------------
# CNNs of the miniImageNet / cross-domain experiments.


class ResNet12Block(nn.Module):
    """BOIL's BasicBlock: (conv3x3 -> BN -> LeakyReLU) x 2, conv3x3 -> BN, + shortcut, LeakyReLU, maxpool 2."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out, track_running_stats=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out, track_running_stats=False)
        self.conv3 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out, track_running_stats=False)
        self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False),
                                        nn.BatchNorm2d(c_out, track_running_stats=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = nn.functional.leaky_relu
        out = act(self.bn1(self.conv1(x)), 0.1)
        out = act(self.bn2(self.conv2(out)), 0.1)
        out = self.bn3(self.conv3(out))
        out = act(out + self.downsample(x), 0.1)
        return nn.functional.max_pool2d(out, 2)


class ResNet12(nn.Module):
    """ResNet-12 of the official code (``ResNet12_boil(avg_pool=True, wh_size=1)``)."""

    head_prefix = "classifier."
    CHANNELS = (64, 128, 256, 512)

    def __init__(self, in_shape: tuple[int, int, int], n_out: int, width_factor: float = 1.0) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        chans = [max(1, int(c * width_factor)) for c in self.CHANNELS]
        dims = [in_shape[0]] + chans
        self.layer1, self.layer2, self.layer3, self.layer4 = (ResNet12Block(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.classifier = nn.Linear(chans[-1], n_out)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):   # official: kaiming_normal_(mode='fan_out', nonlinearity='leaky_relu')
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")
        # nn.Linear keeps PyTorch's default init, as in the official ResNet12_boil

    def forward(self, x: torch.Tensor, return_features: bool = False):
        h = x.reshape(x.shape[0], *self.in_shape)
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            h = layer(h)
            feats.append(h.flatten(1))
        out = self.classifier(h.mean(dim=(2, 3)))
        return (out, feats) if return_features else out


class WideBlock(nn.Module):
    """Pre-activation wide block: BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3 (stride), + shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in, track_running_stats=False)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(c_out, track_running_stats=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=stride, padding=1, bias=True)
        self.shortcut = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=True))
                         if stride != 1 or c_in != c_out else nn.Sequential())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(torch.relu(self.bn1(x)))
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + self.shortcut(x)


class WRN28(nn.Module):
    """WRN-28-k of the official code (learn2learn's ``WRN28``; depth 28 = 6n + 4 with n = 4 blocks a stage)."""

    head_prefix = "classifier."

    def __init__(self, in_shape: tuple[int, int, int], n_out: int, widen_factor: int = 10, depth: int = 28) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"wide-resnet depth must be 6n + 4, got {depth}")
        n = (depth - 4) // 6
        self.in_shape = tuple(in_shape)
        stages = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(in_shape[0], stages[0], 3, padding=1, bias=True)
        layers, c_in = [], stages[0]
        for c_out, stride in zip(stages[1:], (1, 2, 2)):
            blocks = []
            for i in range(n):
                blocks.append(WideBlock(c_in, c_out, stride if i == 0 else 1))
                c_in = c_out
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.bn1 = nn.BatchNorm2d(stages[3], track_running_stats=False)
        self.classifier = nn.Linear(stages[3], n_out)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        h = self.conv1(x.reshape(x.shape[0], *self.in_shape))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3):
            h = layer(h)
            feats.append(h.flatten(1))
        h = torch.relu(self.bn1(h)).mean(dim=(2, 3))   # = avg_pool2d(21) on the 21x21 map of 84x84 inputs
        out = self.classifier(h)
        return (out, feats) if return_features else out


def prunable_weight_names(model: nn.Module) -> list[str]:
    """Weights Meta-ticket masks: every Linear / Conv2d weight outside the classifier head.

    This is the complement of the official ``ignore_params`` ('classifier', BatchNorm ('normalize', 'bn1',
    'bn2', 'bn3', 'downsample.1'), '.bias') for the MLP, ResNet-12 and WRN-28 configs.
    """
    head = getattr(model, "head_prefix", "classifier.")
    names = []
    for mod_name, mod in model.named_modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)) and not (mod_name + ".").startswith(head):
            names.append(f"{mod_name}.weight")
    return names


def build_image_model(arch: str, image_shape: tuple[int, ...], n_way: int, width_factor: float = 1.0,
                      wrn_widen: int = 10, hidden_sizes: str = "256,128,64,64") -> nn.Module:
    """The paper's network for an image dataset: MLP (``hidden_sizes`` x ``width_factor``), ResNet-12
    (channels x ``width_factor``) or WRN-28-``wrn_widen``; ``n_way`` outputs."""
    if arch == "resnet12":
        return ResNet12(image_shape, n_way, width_factor)
    if arch == "wrn28":
        return WRN28(image_shape, n_way, wrn_widen)
    in_dim = 1
    for d in image_shape:
        in_dim *= int(d)
    return FewShotMLP(in_dim, n_way, mlp_sizes(hidden_sizes, width_factor))
