"""CIFAR-style pre-activation-free ResNet (He et al. 2016, Sec. 4.2: depth 6n+2, three stages) with BatchNorm.

``ResNetCifar(depth=26, width=k)`` is the ResNet-26 family used for CIFAR-10-C TTA work (TTT, Tent's
CIFAR experiments use WRN-28-10); the quick profile uses ``depth=8`` (n=1) with ``width=1``, i.e.
stages of 16/32/64 channels and a 64-dimensional feature before the linear classifier.
``forward_features`` returns that (globally average-pooled) feature, which CAFe aligns.

Also the input pipeline of both model families: ``to_tensor`` (CIFAR-style models: fixed
normalisation ``(x/255 - 0.5) / 0.25``) and ``imagenet_tensor`` (torchvision's ImageNet mean/std).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.5, 0.25   # fixed input normalisation of the CIFAR-style models: (x/255 - 0.5) / 0.25


def to_tensor(x: np.ndarray, device) -> torch.Tensor:
    """uint8 NHWC -> normalised float NCHW (CIFAR-style models)."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device).permute(0, 3, 1, 2).float()
    return (t / 255.0 - MEAN) / STD


def imagenet_tensor(x: np.ndarray, device) -> torch.Tensor:
    """uint8 NHWC -> float NCHW normalised with torchvision's ImageNet mean and std."""
    t = torch.from_numpy(x).to(device).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor([0.485, 0.456, 0.406], device=device)[:, None, None]
    s = torch.tensor([0.229, 0.224, 0.225], device=device)[:, None, None]
    return (t - m) / s


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.short is None else self.short(x)))


class ResNetCifar(nn.Module):
    def __init__(self, depth: int = 26, width: int = 1, num_classes: int = 10, in_ch: int = 3):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        chans = [16 * width, 32 * width, 64 * width]
        self.conv = nn.Conv2d(in_ch, chans[0], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(chans[0])
        layers, cin = [], chans[0]
        for i, c in enumerate(chans):
            for j in range(n):
                layers.append(BasicBlock(cin, c, 2 if (i > 0 and j == 0) else 1))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)
        self.feature_dim = cin

    def forward_features(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.layers(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x):
        return self.fc(self.forward_features(x))


class SmallCNN(nn.Module):
    """A four-layer CNN with BatchNorm after every convolution (the quick profile's Fashion-MNIST model; ours).

    conv3x3(3->c1)-BN-ReLU-maxpool2, conv3x3(c1->c2)-BN-ReLU-maxpool2, conv3x3(c2->c3)-BN-ReLU,
    conv3x3(c3->c4)-BN-ReLU, global average pool -> the ``c4``-dimensional feature CAFe aligns -> linear.
    About 5 M multiply-adds per 32x32 image, 2.4x fewer than ResNet-8, so three source models and
    1,000-image streams fit the CPU budget.
    """

    def __init__(self, num_classes: int = 10, chans: tuple[int, ...] = (16, 32, 64, 64), in_ch: int = 3):
        super().__init__()
        convs, bns, cin = [], [], in_ch
        for c in chans:
            convs.append(nn.Conv2d(cin, c, 3, 1, 1, bias=False))
            bns.append(nn.BatchNorm2d(c))
            cin = c
        self.convs, self.bns = nn.ModuleList(convs), nn.ModuleList(bns)
        self.fc = nn.Linear(cin, num_classes)
        self.feature_dim = cin

    def forward_features(self, x):
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(bn(conv(x)))
            if i < 2:
                x = F.max_pool2d(x, 2)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x):
        return self.fc(self.forward_features(x))


def build_model(arch: str, depth: int, width: int, num_classes: int) -> nn.Module:
    """The source architecture of a config: ``resnet`` (``ResNetCifar(depth, width)``) or ``cnn`` (``SmallCNN``
    with stages 16/32/64/64 x width)."""
    if arch == "resnet":
        return ResNetCifar(depth, width, num_classes)
    if arch == "cnn":
        return SmallCNN(num_classes, tuple(c * width for c in (16, 32, 64, 64)))
    raise ValueError(f"arch must be resnet or cnn, got {arch!r}")


class TorchvisionFeatures(nn.Module):
    """Wrap a torchvision ResNet (full profile, ImageNet-C) with the same forward_features/fc API."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.fc = net.fc
        self.feature_dim = net.fc.in_features

    def forward_features(self, x):
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        return torch.flatten(n.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.forward_features(x))


def imagenet_resnet50(weights_path: str = "") -> TorchvisionFeatures:
    """torchvision's ResNet-50 with the IMAGENET1K_V1 weights (from ``weights_path``, else downloaded)."""
    import torchvision

    if weights_path:
        net = torchvision.models.resnet50()
        net.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    else:
        net = torchvision.models.resnet50(weights="IMAGENET1K_V1")
    return TorchvisionFeatures(net).eval()
