"""Data for the CAFe reproduction: clean source sets, corrupted test streams, full-profile loaders.

Quick profile (real data available offline):
- ``cifar10sub``: the CIFAR-10 subset of ``common.data.cifar`` (5,000 train = 500/class, 10,000 test),
  JPEG (quality 75) re-encodings, not the original PNG-equivalent pixels; read from the offline copy
  ``$REPRO_DATA/cifar10_subset`` or cut from the official archive (same images).
- ``fmnist``: full Fashion-MNIST (60k/10k, Debian package ``dataset-fashion-mnist``), zero-padded to
  32x32 and replicated to 3 channels so the same CIFAR-10-C corruption code applies.
Both are corrupted here into a CIFAR-10-C-style benchmark (``corruptions.py``), cached under
``runs/cafe/_cache``.

Full profile (the paper's benchmarks; not on this machine):
- CIFAR-10-C / CIFAR-100-C in the standard layout ``<root>/CIFAR-10-C/<corruption>.npy`` (uint8,
  (50000, 32, 32, 3): severities 1..5 stacked, 10,000 each) and ``labels.npy``;
- the clean training sets from the official CIFAR-10 / CIFAR-100 archives (``common.data.cifar``:
  binary or python version, extracted or not; downloaded and MD5-verified on first use);
- ImageNet-C as ``<root>/ImageNet-C/<corruption>/<severity>/<wnid>/*.JPEG`` and an ImageNet training
  folder ``<root>/imagenet/train/<wnid>/*.JPEG`` for the pre-computed source statistics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.data import DataFormatError, find_dir, find_files, load_cifar, load_fashion_mnist
from common.data import load_cifar10_subset as _load_subset
from common.data.core import reading, register_dataset, uses

from .corruptions import CORRUPTIONS, corrupt_batch

QUICK_DATASETS = {"cifar10sub": "CIFAR-10 subset (JPEG), 5k train / 10k test",
                  "fmnist": "Fashion-MNIST full 60k / 10k, padded to 32x32 RGB"}
FULL_DATASETS = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}
CIFAR_C_HOW = ("download CIFAR-10-C / CIFAR-100-C from https://zenodo.org/record/2535967 and "
               "https://zenodo.org/record/3555552, untar into $REPRO_DATA/")
IMAGENET_C_HOW = "download ImageNet-C from https://zenodo.org/record/2235448 and untar into $REPRO_DATA/ImageNet-C/"
IMAGENET_HOW = "place (a class-balanced subset of) the ImageNet-1k training images in $REPRO_DATA/imagenet/train/"

uses("cafe", "cifar10_subset", "fashion_mnist", "cifar10", "cifar100")
for _name, _folder in (("cifar10_c", "CIFAR-10-C"), ("cifar100_c", "CIFAR-100-C")):
    register_dataset(_name, f"{_folder}: 15 corruptions x 5 severities, <corruption>.npy + labels.npy (full)",
                     CIFAR_C_HOW, paper="cafe",
                     locate=lambda f=_folder: find_dir(f, [f], "labels.npy", CIFAR_C_HOW))
register_dataset("imagenet_c", "ImageNet-C <corruption>/<severity>/<wnid>/*.JPEG (full)", IMAGENET_C_HOW, paper="cafe",
                 locate=lambda: find_dir("ImageNet-C", ["ImageNet-C"], "gaussian_noise", IMAGENET_C_HOW))
register_dataset("imagenet", "ImageNet-1k training images train/<wnid>/*.JPEG, source statistics (full)",
                 IMAGENET_HOW, paper="cafe", locate=lambda: imagenet_train_folder())


def num_classes(dataset: str) -> int:
    return 100 if dataset == "cifar100" else 1000 if dataset == "imagenet" else 10


# ------------------------------------------------------------------ quick-profile clean sets

def load_cifar10_subset(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 32, 32, 3) uint8 images and int64 labels of the quick-profile CIFAR-10 subset."""
    ds = _load_subset(split)
    return ds.x, ds.y


def load_fmnist32(split: str) -> tuple[np.ndarray, np.ndarray]:
    ds = load_fashion_mnist(split)
    x = np.pad(ds.x.astype(np.uint8), ((0, 0), (2, 2), (2, 2)))
    return np.repeat(x[..., None], 3, axis=3), ds.y.astype(np.int64)


def load_clean(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Clean images (N, 32, 32, 3) uint8 of a quick or CIFAR full dataset."""
    if dataset == "cifar10sub":
        return load_cifar10_subset(split)
    if dataset == "fmnist":
        return load_fmnist32(split)
    if dataset in ("cifar10", "cifar100"):
        return load_cifar_binary(dataset, split)
    raise ValueError(f"no clean 32x32 loader for dataset {dataset!r}")


# ------------------------------------------------------------------ full-profile loaders

def load_cifar_binary(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Official CIFAR-10/100 (``common.data.cifar``): (N, 32, 32, 3) uint8, int64 (fine) labels."""
    if dataset not in ("cifar10", "cifar100"):
        raise ValueError(f"dataset must be cifar10 or cifar100, got {dataset!r}")
    ds = load_cifar(dataset, split)
    return ds.x, ds.y


def load_cifar_c(dataset: str, corruption: str, severity: int) -> tuple[np.ndarray, np.ndarray]:
    """One corruption at one severity of CIFAR-10-C / CIFAR-100-C (standard .npy layout)."""
    if corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}; valid: {', '.join(CORRUPTIONS)}")
    if severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be 1..5, got {severity}")
    folder = {"cifar10": "CIFAR-10-C", "cifar100": "CIFAR-100-C"}[dataset]
    _, (xp, yp) = find_files(folder, [folder], [f"{corruption}.npy", "labels.npy"], how=CIFAR_C_HOW)
    with reading(xp):
        x = np.load(xp, mmap_mode="r", allow_pickle=False)
    with reading(yp):
        y = np.load(yp, allow_pickle=False)
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or x.shape[0] % 5 or len(y) != x.shape[0]:
        raise DataFormatError(f"{xp}: expected (5*N, 32, 32, 3) with matching labels, got {x.shape} / {y.shape}")
    n = x.shape[0] // 5
    sl = slice((severity - 1) * n, severity * n)
    return np.ascontiguousarray(x[sl]), y[sl].astype(np.int64)


def list_image_folder(root: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """``root/<class>/*.(JPEG|jpg|png)`` sorted; class index = sorted folder order (ImageNet wnids)."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    files, labels = [], []
    for i, c in enumerate(classes):
        for f in sorted((root / c).iterdir()):
            if f.suffix.lower() in (".jpeg", ".jpg", ".png"):
                files.append(f)
                labels.append(i)
    if not files:
        raise DataFormatError(f"no images under {root}/<class>/")
    return files, np.array(labels, dtype=np.int64), classes


def imagenet_c_folder(corruption: str, severity: int) -> Path:
    if corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}")
    return find_dir("ImageNet-C", ["ImageNet-C"], f"{corruption}/{severity}", IMAGENET_C_HOW) / corruption / str(severity)


def imagenet_train_folder() -> Path:
    """``<root>/imagenet/train`` (ImageNet-1k training images by wnid), for the source statistics."""
    return find_dir("imagenet", ["imagenet"], "train", IMAGENET_HOW) / "train"


def load_image_files(files, size: int = 224) -> np.ndarray:
    """Resize 256 + center crop 224 (the torchvision ImageNet evaluation transform); uint8 NHWC."""
    from PIL import Image
    out = []
    for f in files:
        with reading(f, "image"):
            im = Image.open(f).convert("RGB")
        s = 256 / min(im.size)
        im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.BILINEAR)
        left, top = (im.width - size) // 2, (im.height - size) // 2
        out.append(np.asarray(im.crop((left, top, left + size, top + size))))
    return np.stack(out)


# ------------------------------------------------------------------ the corrupted benchmark

def make_corrupted_benchmark(x: np.ndarray, y: np.ndarray, n_per_corruption: int, severity: int,
                             seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """CIFAR-10-C-style benchmark: for each of the 15 corruptions, ``n`` class-balanced test images
    (a seeded draw) corrupted at ``severity``. Returns {corruption: (images uint8, labels)}."""
    if n_per_corruption < 1 or n_per_corruption > len(y):
        raise ValueError(f"n_per_corruption must be in [1, {len(y)}], got {n_per_corruption}")
    rng = np.random.default_rng(seed)
    out = {}
    for c in CORRUPTIONS:
        idx = np.sort(rng.choice(len(y), n_per_corruption, replace=False))
        out[c] = (corrupt_batch(x[idx], c, severity, rng), y[idx])
    return out
