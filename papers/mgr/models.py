"""Networks of mgr: classifiers split into a feature extractor and a head, the class-conditional generator, and the
latent finder of meta pseudo sampling.

Every classifier exposes ``features`` (x -> h, the part pseudo consistency regularisation acts on) and ``head``
(h -> logits). The quick profile uses a small CNN (ours); the full profile the paper's ResNet-18 (torchvision,
trained from scratch here: ours, no ImageNet weights are downloaded).

Generator interface (plug in your own, e.g. a class-conditional StyleGAN2-ADA wrapped as an ``nn.Module``): a module
with attributes ``latent_dim`` (int) and ``num_classes`` (int) whose ``forward(z, y)`` maps latents ``z`` (B,
latent_dim) and integer labels ``y`` (B,) to images (B, C, H, W) in [0, 1] at the classifier's input size, and is
differentiable in ``z`` (meta pseudo sampling back-propagates through it). Its weights are read by
:func:`load_generator_weights`, which never unpickles arbitrary objects.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


class SmallCNN(nn.Module):
    """Three 3x3 conv layers (width w, 2w, 2w; ReLU; the first two with stride 2) and a fully connected layer to
    ``feat_dim`` features (ReLU), then a linear head. Ours: the quick profile's classifier (28 x 28 / 32 x 32
    inputs), sized for CPU."""

    def __init__(self, in_ch: int, n_classes: int, size: int, width: int = 16, feat_dim: int = 64) -> None:
        super().__init__()
        s = (size + 3) // 4
        self.features = nn.Sequential(
            nn.Conv2d(in_ch, width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, 1, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * width * s * s, feat_dim), nn.ReLU())
        self.head = nn.Linear(feat_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ResNet18Classifier(nn.Module):
    """torchvision's ResNet-18 with its final ``fc`` as the head and everything before it as the feature extractor
    (512-d pooled features)."""

    def __init__(self, in_ch: int, n_classes: int) -> None:
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(num_classes=n_classes)
        if in_ch != 3:
            net.conv1 = nn.Conv2d(in_ch, 64, 7, 2, 3, bias=False)
        self.features = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
                                      net.layer4, net.avgpool, nn.Flatten())
        self.head = net.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_classifier(arch: str, in_ch: int, n_classes: int, size: int, width: int = 16) -> nn.Module:
    if arch == "cnn":
        return SmallCNN(in_ch, n_classes, size, width)
    if arch == "resnet18":
        return ResNet18Classifier(in_ch, n_classes)
    raise ValueError(f"arch must be cnn or resnet18, got {arch!r}")


class ConditionalVAE(nn.Module):
    """A conditional VAE (Kingma et al. 2014, M2-style conditioning by concatenating a one-hot label): MLP encoder
    q(z | x, y) and MLP decoder p(x | z, y) with Bernoulli / sigmoid outputs. ``forward(z, y)`` is the decoder, the
    generator interface of this module. Ours: the in-run stand-in for the paper's StyleGAN2-ADA."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, latent_dim: int = 16,
                 hidden: int = 512) -> None:
        super().__init__()
        self.image_shape, self.num_classes, self.latent_dim = tuple(image_shape), num_classes, latent_dim
        d = int(torch.tensor(image_shape).prod())
        self.enc = nn.Sequential(nn.Linear(d + num_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 * latent_dim))
        self.dec = nn.Sequential(nn.Linear(latent_dim + num_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, d))

    def _onehot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.num_classes).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc(torch.cat([x.flatten(1), self._onehot(y)], 1)).chunk(2, 1)
        return mu, logvar

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.dec(torch.cat([z, self._onehot(y)], 1)).view(len(z), *self.image_shape)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, y))

    def elbo_loss(self, x: torch.Tensor, y: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Negative ELBO per image (Bernoulli likelihood, which suits images in [0, 1])."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        rec = F.binary_cross_entropy_with_logits(self.decode_logits(z, y), x, reduction="sum") / len(x)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / len(x)
        return rec + beta * kl


class LatentFinder(nn.Module):
    """The finder of meta pseudo sampling: noise eps ~ N(0, I) (and the label y) -> generator latent
    z = ||eps|| * u / ||u||, u = eps + g([eps, onehot(y)]). ``g``'s last layer starts at zero, so an untrained finder
    samples like the generator's prior (= PCR with uniform sampling); keeping the norm of eps keeps the latents on
    the prior's typical shell, where the generator was trained. Ours: the residual form, the norm constraint and the
    label input."""

    def __init__(self, latent_dim: int, num_classes: int, hidden: int = 128) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.g = nn.Sequential(nn.Linear(latent_dim + num_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                               nn.ReLU(), nn.Linear(hidden, latent_dim))
        nn.init.zeros_(self.g[-1].weight)
        nn.init.zeros_(self.g[-1].bias)

    def forward(self, eps: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        u = eps + self.g(torch.cat([eps, F.one_hot(y, self.num_classes).float()], 1))
        return u * (eps.norm(dim=1, keepdim=True) / u.norm(dim=1, keepdim=True).clamp_min(1e-8))


def load_generator_weights(module: nn.Module, path: str | Path) -> nn.Module:
    """Load a state dict into ``module`` safely: ``.safetensors`` through safetensors, anything else through
    ``torch.load(weights_only=True)`` (tensors only; a pickled object raises instead of running code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"generator weights not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    module.load_state_dict(state)
    return module
