"""Networks of the deep case: a small CNN (quick profile) and ResNet-18 for CIFAR-10 (full profile).

Neither has dropout; the small CNN has no BatchNorm, so its Hessian is that of a plain function of
the weights. ResNet-18 is torchvision's with the CIFAR stem (3x3 convolution, stride 1, no
max-pool, as in the adversarial-training literature); its Hessian is taken in eval mode
(BatchNorm with running statistics).
"""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """conv(c->16, 5x5, stride 2) - ReLU - conv(16->32, 3x3, stride 2) - ReLU - linear(-> 10): a CPU-sized
    CNN (28x28 -> 12x12 -> 5x5; 13k parameters on Fashion-MNIST)."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 5, stride=2), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2), nn.ReLU())
        side = ((image_size - 5) // 2 + 1 - 3) // 2 + 1
        self.classifier = nn.Linear(32 * side * side, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def resnet18_cifar(n_classes: int = 10) -> nn.Module:
    from torchvision.models import resnet18

    net = resnet18(num_classes=n_classes)
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net


def build_model(name: str, in_channels: int, image_size: int, n_classes: int = 10) -> nn.Module:
    if name == "small_cnn":
        return SmallCNN(in_channels, n_classes, image_size)
    if name == "resnet18":
        return resnet18_cifar(n_classes)
    raise ValueError(f"unknown model {name!r}")
