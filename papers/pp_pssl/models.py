"""Networks of pp_pssl: the source classifier (a small CNN), the target architectures (an MLP; the
source CNN shape for the fine-tuning reference), the source conditional generator (a conditional
VAE whose decoder takes any point of the class simplex as its condition), and the plug-in
interface for a pre-trained generator (the full profile's BigGAN-like models).

Generator interface (what ``method.py`` calls; a user's pre-trained generator implements it):

    class ConditionalGenerator(nn.Module):
        n_classes: int            # size of the condition vector (ImageNet: 1000)
        z_dim: int                # latent size
        image_shape: tuple        # (C, H, W) of the generated images, values in [0, 1]
        def decode(self, z: (B, z_dim), cond: (B, n_classes) rows on the simplex) -> (B, C, H, W)

BigGAN fits it as is: its class embedding is linear in the one-hot label, so a soft condition
``cond @ E`` is the embedding of the class mixture (the cVAE's first decoder layer is linear in the
condition in the same way). ``load_generator`` builds a user's module from ``"pkg.mod:factory"`` and
loads its weights without pickle (safetensors, or ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from common.config import ConfigError


class SmallCNN(nn.Module):
    """conv(16) -> pool -> conv(32) -> pool -> fc(hidden) -> fc(n_classes) (ours: the source classifier;
    also the target architecture of the fine-tuning reference, where source and target match)."""

    def __init__(self, in_ch: int = 1, hw: int = 28, n_classes: int = 10, hidden: int = 128) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_ch, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * (hw // 4) ** 2, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_classes)
        self.feat_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class MLP(nn.Module):
    """The target architecture of the quick profile: flatten -> [Linear -> ReLU] x len(hidden) -> head.
    Unlike the source CNN it has no convolution, so the source weights cannot be fine-tuned into it."""

    def __init__(self, d_in: int = 784, hidden: tuple[int, ...] = (512, 256), n_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip((d_in,) + tuple(hidden[:-1]), hidden):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(hidden[-1], n_classes)
        self.feat_dim = hidden[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class CVAE(nn.Module):
    """Conditional VAE (Kingma et al. 2014, M2-style conditioning): q(z | x, c), p(x | z, c) Bernoulli.
    Trained with one-hot conditions; ``decode`` accepts any condition on the simplex."""

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10, z_dim: int = 16,
                 hidden: int = 512) -> None:
        super().__init__()
        self.image_shape, self.n_classes, self.z_dim = tuple(image_shape), n_classes, z_dim
        d = image_shape[0] * image_shape[1] * image_shape[2]
        self.enc = nn.Sequential(nn.Linear(d + n_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 * z_dim))
        self.dec = nn.Sequential(nn.Linear(z_dim + n_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, d))

    def encode(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc(torch.cat([x.flatten(1), cond], 1)).chunk(2, dim=1)
        return mu, logvar

    def decode_logits(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.dec(torch.cat([z, cond], 1)).view(-1, *self.image_shape)

    def decode(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, cond))

    def neg_elbo(self, x: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Mean negative ELBO in nats per image: Bernoulli reconstruction + KL(q(z|x,c) || N(0, I))."""
        mu, logvar = self.encode(x, cond)
        z = mu + noise * (0.5 * logvar).exp()
        rec = F.binary_cross_entropy_with_logits(self.decode_logits(z, cond), x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return (rec + kl).mean()


def check_generator(gen: nn.Module) -> None:
    """The plug-in contract (module docstring); raises ConfigError naming what is missing."""
    missing = [a for a in ("n_classes", "z_dim", "image_shape", "decode") if not hasattr(gen, a)]
    if missing:
        raise ConfigError(f"generator {type(gen).__name__} lacks {', '.join(missing)} (see papers/pp_pssl/models.py)")


def load_state_dict_safely(path: str | Path) -> dict[str, torch.Tensor]:
    """Weights from a .safetensors file or a torch state dict loaded with ``weights_only=True`` (no pickle code)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"generator weights not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path} is not a flat state dict of tensors")
    return state


def load_generator(factory: str, weights: str | Path, **kwargs) -> nn.Module:
    """A user's pre-trained conditional generator: ``factory = "package.module:function"`` builds the
    module (called with ``kwargs``), ``weights`` fills it (strict), then the interface is checked."""
    gen = _build(factory, **kwargs)
    gen.load_state_dict(load_state_dict_safely(weights), strict=True)
    check_generator(gen)
    return gen.eval()


def _build(factory: str, **kwargs) -> nn.Module:
    if ":" not in factory:
        raise ConfigError(f"factory must be 'package.module:function', got {factory!r}")
    mod_name, fn_name = factory.split(":", 1)
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"cannot import factory {factory!r}: {e}") from None
    return fn(**kwargs)


def load_classifier(factory: str, weights: str | Path, **kwargs) -> nn.Module:
    """A user's pre-trained source classifier (e.g. ``torchvision.models:resnet50`` with the ImageNet
    weights saved as a state dict), loaded without pickle."""
    clf = _build(factory, **kwargs)
    clf.load_state_dict(load_state_dict_safely(weights), strict=True)
    return clf.eval()


class ResNetTarget(nn.Module):
    """torchvision's ResNet-18 (random init) split into ``features`` and ``head`` (full profile)."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(num_classes=n_classes)
        self.head = net.fc
        net.fc = nn.Identity()
        self.features = net
        self.feat_dim = self.head.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
