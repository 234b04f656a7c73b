"""Data of the PU-diffusion experiments: image loaders and the positive-unlabelled split.

Split (official ``dataloaders.load``): from the training split, draw ``n_unlabeled_normal`` images of the
normal classes and ``n_labeled_sensitive + n_unlabeled_sensitive`` of the sensitive classes without
replacement; the first ``n_labeled_sensitive`` sensitive images are labelled (y = 1), the rest join the
normal ones as unlabelled (y = 0). The FID reference is the first ``n_test`` normal images of the test split.

Loaders: MNIST, Fashion-MNIST and CIFAR-10 through ``common.data`` (IDX files; the official CIFAR-10
archive, downloaded and verified on first use when absent); STL-10 from the official binary files
(``stl10_binary/{train,test}_{X,y}.bin``, column-major 3x96x96, labels 1..10), found through the
common search roots.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from common.data import DataFormatError, DataMissingError, find_dir, load_cifar10, load_fashion_mnist, load_mnist
from common.data.core import register_dataset, uses

STL10_HOW = ("download https://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz and extract it so that "
             "$REPRO_DATA/stl10/stl10_binary/train_X.bin exists")
STL10_SUBDIRS = ["stl10/stl10_binary", "stl10_binary"]

uses("pu_diffusion", "mnist", "fashion_mnist", "cifar10")
register_dataset("stl10", "STL-10 binary, 5k train / 8k test 96x96 RGB, 10 classes (full)", STL10_HOW,
                 paper="pu_diffusion", locate=lambda: find_dir("stl10", STL10_SUBDIRS, "train_X.bin", STL10_HOW))


def read_stl10_binary(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 96, 96, 3) uint8 and labels 0..9 from the official STL-10 binary files."""
    xp, yp = Path(folder) / f"{split}_X.bin", Path(folder) / f"{split}_y.bin"
    for p in (xp, yp):
        if not p.is_file():
            raise DataMissingError(f"dataset 'stl10': {p} missing.\nHow to obtain it: {STL10_HOW}\n"
                                   f"(Set REPRO_DATA=/path/a:/path/b to the folders that hold the datasets.)")
    raw = np.fromfile(xp, dtype=np.uint8)
    if raw.size % (3 * 96 * 96):
        raise DataFormatError(f"stl10: {xp} has {raw.size} bytes, not a multiple of 3*96*96")
    x = raw.reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)      # stored column-major per channel
    y = np.fromfile(yp, dtype=np.uint8).astype(np.int64) - 1
    if len(y) != len(x) or y.min() < 0 or y.max() > 9:
        raise DataFormatError(f"stl10: {len(x)} images vs {len(y)} labels (1..10 expected) in {folder}")
    return x, y


def load_images(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 images (N, H, W) or (N, H, W, 3), int labels, and the exact name of what was loaded."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if dataset == "fashion_mnist":
        ds = load_fashion_mnist(split)
        return ds.x, ds.y, ds.name
    if dataset == "mnist":
        ds = load_mnist(split)
        return ds.x, ds.y, ds.name
    if dataset == "cifar10":
        ds = load_cifar10(split)
        return ds.x, ds.y, ds.name
    if dataset == "stl10":
        x, y = read_stl10_binary(find_dir("stl10", STL10_SUBDIRS, f"{split}_X.bin", STL10_HOW), split)
        return x, y, "stl10"
    raise ValueError(f"unknown dataset {dataset!r}; valid: mnist, fashion_mnist, cifar10, stl10")


def to_model_space(x: np.ndarray, image_size: int, channels: int) -> torch.Tensor:
    """uint8 images -> float (N, C, S, S) in [-1, 1]: ToTensor, Resize(S, antialias), Normalize(0.5, 0.5).

    Grey images are replicated to ``channels`` (Grayscale(3) in the official MNIST pipeline).
    """
    t = torch.from_numpy(np.ascontiguousarray(x)).float() / 255.0
    t = t[:, None] if t.dim() == 3 else t.permute(0, 3, 1, 2)
    if t.shape[1] != channels:
        if t.shape[1] == 1:
            t = t.expand(-1, channels, -1, -1)
        elif channels == 1:
            t = (0.299 * t[:, :1] + 0.587 * t[:, 1:2] + 0.114 * t[:, 2:3])
        else:
            raise ValueError(f"cannot map {t.shape[1]} channels to {channels}")
    if t.shape[-1] != image_size or t.shape[-2] != image_size:
        t = F.interpolate(t, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return (t.clamp(0, 1) * 2 - 1).contiguous()


@dataclass
class PUSplit:
    index: np.ndarray        # indices into the training split
    label: np.ndarray        # 1 = labelled sensitive (positive), 0 = unlabelled
    is_sensitive: np.ndarray  # ground truth (never used for training)


def make_pu_split(y: np.ndarray, normal_classes, n_unlabeled_normal: int, n_unlabeled_sensitive: int,
                  n_labeled_sensitive: int, seed: int) -> PUSplit:
    """The official split: U = normal bag + unlabelled sensitive, P = labelled sensitive."""
    normal = np.isin(y, np.asarray(normal_classes))
    normal_idx, sens_idx = np.flatnonzero(normal), np.flatnonzero(~normal)
    if n_unlabeled_normal > len(normal_idx):
        raise ValueError(f"n_unlabeled_normal={n_unlabeled_normal} but the training split has only "
                         f"{len(normal_idx)} normal images")
    if n_labeled_sensitive + n_unlabeled_sensitive > len(sens_idx):
        raise ValueError(f"n_labeled_sensitive + n_unlabeled_sensitive = "
                         f"{n_labeled_sensitive + n_unlabeled_sensitive} but the training split has only "
                         f"{len(sens_idx)} sensitive images")
    rng = np.random.default_rng(seed)
    normal_bag = rng.choice(normal_idx, n_unlabeled_normal, replace=False)
    sens_bag = rng.choice(sens_idx, n_labeled_sensitive + n_unlabeled_sensitive, replace=False)
    positive, unl_sens = sens_bag[:n_labeled_sensitive], sens_bag[n_labeled_sensitive:]
    index = np.concatenate([positive, normal_bag, unl_sens])
    label = np.concatenate([np.ones(len(positive)), np.zeros(len(normal_bag) + len(unl_sens))]).astype(np.int64)
    truth = np.concatenate([np.ones(len(positive)), np.zeros(len(normal_bag)), np.ones(len(unl_sens))]).astype(bool)
    return PUSplit(index, label, truth)


def normal_test_indices(y: np.ndarray, normal_classes, n_test: int) -> np.ndarray:
    """First ``n_test`` normal test images (official: ``test_normal_indices[:n_test]``)."""
    idx = np.flatnonzero(np.isin(y, np.asarray(normal_classes)))
    if n_test > len(idx):
        raise ValueError(f"n_test={n_test} but the test split has only {len(idx)} normal images")
    return idx[:n_test]
