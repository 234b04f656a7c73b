"""The competitors of PU diffusion, under the same DDPM protocol (same data, network, optimiser and
sampler; only the training objective differs), and the registry ``METHODS``.

The two baselines are those of the official code (``models/losses.py``: ``UnsupervisedLoss``,
``SupervisedLoss``); they exist only as these objectives. Every entry of ``METHODS`` maps a method name to
its batch objective ``risk(ell, y, beta)`` on per-image denoising losses ``ell`` and labels ``y``
(1 = labelled sensitive, 0 = unlabelled); ``train.py`` looks the method up there.
"""

from __future__ import annotations

from typing import Callable

import torch

from .method import positive_loss, pu_risk


def unsupervised_risk(ell: torch.Tensor, y: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
    """Baseline 'Unsupervised': mean over the batch of (1 - y) l (labelled sensitive data ignored)."""
    return torch.mean((1 - y) * ell)


def supervised_risk(ell: torch.Tensor, y: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
    """Baseline 'Supervised': unlabelled treated as normal, labelled sensitive pushed to low ELBO."""
    return torch.mean((1 - y) * ell + y * positive_loss(ell))


def pu_abs_risk(ell: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """The proposed objective, absolute-value form (method.py)."""
    return pu_risk(ell, y, beta, nonnegative=False)


def pu_nonnegative_risk(ell: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """The proposed objective, non-negative (nnPU-style) variant (method.py)."""
    return pu_risk(ell, y, beta, nonnegative=True)


METHODS: dict[str, Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "unsupervised": unsupervised_risk,
    "supervised": supervised_risk,
    "pu": pu_abs_risk,
    "pu_nn": pu_nonnegative_risk,
}


def risk(method: str, ell: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """The training objective of ``method`` (labels cast to the losses' dtype)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    return METHODS[method](ell, y.to(ell.dtype), beta)
