"""Data of mgr: a stratified fraction of a training split, a validation split cut from it, and the test split.

Quick datasets come through ``common.data`` (verified downloads; offline copies via $REPRO_DATA): Fashion-MNIST
(60k / 10k, 28 x 28), MNIST, and the CIFAR-10 quick subset. The paper's six datasets (ours: our reading of its
'six datasets' -- Stanford Cars, FGVC-Aircraft, CUB-200-2011, DTD, Oxford Flowers-102, Oxford-IIIT Pets) are read
here from their official extracted layouts (parsers ``*_index``, tested on tiny files of the same format); DTD,
Flowers and Pets download from the official site with the published MD5 when absent, the other three must be
obtained by hand (their official archives have no published checksum, or the site is gone). Images are decoded
once with PIL, resized to ``image_size`` x ``image_size`` (ours: plain resize) and cached (``common.cache``).

All images reach the models as float32 (N, C, H, W) in [0, 1].
"""

from __future__ import annotations

import functools
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from common.cache import cache_entry
from common.config import ConfigError
from common.data import (
    DataFormatError,
    DataMissingError,
    Resource,
    find_dir,
    load_cifar10_subset,
    load_fashion_mnist,
    load_mnist,
    reading,
    register_dataset,
    uses,
)
from common.data.core import candidate_dirs, fetch_or_raise

SLUG = "mgr"
VGG = "https://www.robots.ox.ac.uk/~vgg/data/"


@dataclass(frozen=True)
class Split:
    """Kept training images (train), the validation split cut from them (val), and the test split."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    name: str


# --------------------------------------------------------------------------------------
# The paper's six datasets: (relative image path, label) per split from the official layouts.

def _lines(path: Path) -> list[str]:
    with reading(path):
        return [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]


def aircraft_index(root: Path, split: str) -> tuple[list[str], list[int]]:
    """FGVC-Aircraft 2013b, variant level (100 classes): data/images_variant_{trainval,test}.txt ('<id> <variant>')."""
    rows = {s: [ln.split(" ", 1) for ln in _lines(root / "data" / f"images_variant_{s}.txt")] for s in ("trainval", "test")}
    classes = sorted({v for s in rows.values() for _, v in s})
    pick = rows["trainval" if split == "train" else "test"]
    return [f"data/images/{i}.jpg" for i, _ in pick], [classes.index(v) for _, v in pick]


def cub_index(root: Path, split: str) -> tuple[list[str], list[int]]:
    """CUB-200-2011: images.txt, image_class_labels.txt (1-based), train_test_split.txt (1 = train)."""
    paths = dict(ln.split() for ln in _lines(root / "images.txt"))
    labels = dict(ln.split() for ln in _lines(root / "image_class_labels.txt"))
    is_train = dict(ln.split() for ln in _lines(root / "train_test_split.txt"))
    ids = [i for i in paths if (is_train[i] == "1") == (split == "train")]
    return [f"images/{paths[i]}" for i in ids], [int(labels[i]) - 1 for i in ids]


def dtd_index(root: Path, split: str, partition: int = 1) -> tuple[list[str], list[int]]:
    """DTD: labels/{train,val,test}<k>.txt ('<class>/<file>.jpg'); train = train + val of partition k (ours)."""
    names = ("train", "val") if split == "train" else ("test",)
    files = [f for n in names for f in _lines(root / "labels" / f"{n}{partition}.txt")]
    classes = sorted({f.split("/")[0] for n in ("train", "val", "test") for f in _lines(root / "labels" / f"{n}{partition}.txt")})
    return [f"images/{f}" for f in files], [classes.index(f.split("/")[0]) for f in files]


def _mat(path: Path) -> dict:
    from scipy.io import loadmat

    with reading(path):
        return loadmat(path, squeeze_me=True)


def flowers_index(root: Path, split: str) -> tuple[list[str], list[int]]:
    """Oxford Flowers-102: imagelabels.mat ('labels', 1-based), setid.mat ('trnid', 'valid', 'tstid'); train =
    trnid + valid (ours)."""
    labels = np.atleast_1d(_mat(root / "imagelabels.mat")["labels"]).astype(int)
    sets = _mat(root / "setid.mat")
    ids = np.concatenate([np.atleast_1d(sets["trnid"]), np.atleast_1d(sets["valid"])]) if split == "train" \
        else np.atleast_1d(sets["tstid"])
    return [f"jpg/image_{int(i):05d}.jpg" for i in ids], [int(labels[int(i) - 1]) - 1 for i in ids]


def pets_index(root: Path, split: str) -> tuple[list[str], list[int]]:
    """Oxford-IIIT Pets (37 breeds): annotations/{trainval,test}.txt ('<name> <class 1-based> <species> <breed>')."""
    rows = [ln.split() for ln in _lines(root / "annotations" / ("trainval.txt" if split == "train" else "test.txt"))
            if not ln.startswith("#")]
    return [f"images/{r[0]}.jpg" for r in rows], [int(r[1]) - 1 for r in rows]


def cars_index(root: Path, split: str) -> tuple[list[str], list[int]]:
    """Stanford Cars (196 classes): devkit/cars_train_annos.mat and cars_test_annos_withlabels.mat ('annotations'
    with fields fname, class 1-based), images in cars_train/ and cars_test/."""
    name = "devkit/cars_train_annos.mat" if split == "train" else "cars_test_annos_withlabels.mat"
    ann = np.atleast_1d(_mat(root / name)["annotations"])
    folder = "cars_train" if split == "train" else "cars_test"
    try:
        return [f"{folder}/{a['fname']}" for a in ann], [int(a["class"]) - 1 for a in ann]
    except (ValueError, KeyError, IndexError) as exc:
        raise DataFormatError(f"{root / name}: no annotations with fname and class ({exc})") from None


@dataclass(frozen=True)
class FullDataset:
    name: str
    subdirs: tuple[str, ...]
    marker: str
    index: Callable[[Path, str], tuple[list[str], list[int]]]
    resources: tuple[Resource, ...]
    how: str


FULL_DATASETS = {
    "cars": FullDataset("stanford_cars", ("stanford_cars", "cars"), "devkit/cars_train_annos.mat", cars_index, (),
                        "the official site is gone: get cars_train/, cars_test/, devkit/ and cars_test_annos_withlabels.mat "
                        "(e.g. the Kaggle mirror 'jessicali9530/stanford-cars-dataset') into stanford_cars/"),
    "aircraft": FullDataset("fgvc_aircraft", ("fgvc-aircraft-2013b", "fgvc_aircraft"), "data/images_variant_test.txt",
                            aircraft_index, (), f"download and extract {VGG}fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz"),
    "birds": FullDataset("cub200", ("CUB_200_2011", "cub200/CUB_200_2011"), "train_test_split.txt", cub_index, (),
                         "download CUB_200_2011.tgz from https://www.vision.caltech.edu/datasets/cub_200_2011/ and "
                         "extract it (folder CUB_200_2011/)"),
    "dtd": FullDataset("dtd", ("dtd", "dtd/dtd"), "labels/test1.txt", dtd_index,
                       (Resource("dtd-r1.0.1.tar.gz", f"{VGG}dtd/download/dtd-r1.0.1.tar.gz",
                                 "md5:fff73e5086ae6bdbea199a49dfb8a4c1"),), "downloaded on first use"),
    "flowers": FullDataset("flowers102", ("flowers-102", "flowers102"), "setid.mat", flowers_index,
                           (Resource("102flowers.tgz", f"{VGG}flowers/102/102flowers.tgz", "md5:52808999861908f626f3c1f4e79d11fa"),
                            Resource("imagelabels.mat", f"{VGG}flowers/102/imagelabels.mat",
                                     "md5:e0620be6f572b9609742df49c70aed4d"),
                            Resource("setid.mat", f"{VGG}flowers/102/setid.mat", "md5:a5357ecc9cb78c4bef273ce3793fc85c")),
                           "downloaded on first use"),
    "pets": FullDataset("oxford_pets", ("oxford-iiit-pet", "oxford_pets"), "annotations/test.txt", pets_index,
                        (Resource("images.tar.gz", f"{VGG}pets/data/images.tar.gz", "md5:5c4f3ee8e5d25df40f4fd59a7f44e54c"),
                         Resource("annotations.tar.gz", f"{VGG}pets/data/annotations.tar.gz",
                                  "md5:95a8c909bbe2e81eed6a22bccdf3f68f")), "downloaded on first use"),
}


def locate_root(dataset: str, download: bool | None = None) -> Path:
    """The extracted folder of one of the six datasets; downloads (MD5-verified) and extracts it where allowed."""
    d = FULL_DATASETS[dataset]
    try:
        return find_dir(d.name, d.subdirs, d.marker, d.how)
    except DataMissingError:
        if not d.resources:
            raise
    folder = fetch_or_raise(d.name, d.resources, d.subdirs[0], candidate_dirs(d.subdirs), d.how, download)
    for r in d.resources:
        if r.name.endswith((".tar.gz", ".tgz")):
            with reading(folder / r.name), tarfile.open(folder / r.name) as tar:
                tar.extractall(folder, filter="data")
    return find_dir(d.name, d.subdirs, d.marker, d.how)


def decode_images(root: Path, files: list[str], size: int) -> np.ndarray:
    """RGB uint8 (N, size, size, 3), each image resized with bilinear filtering."""
    from PIL import Image

    out = np.empty((len(files), size, size, 3), np.uint8)
    for k, f in enumerate(files):
        with reading(root / f), Image.open(root / f) as im:
            out[k] = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
    return out


def load_full(dataset: str, split: str, size: int, download: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    root = locate_root(dataset, download)
    files, labels = FULL_DATASETS[dataset].index(root, split)
    key = {"dataset": dataset, "root": str(root), "split": split, "size": size, "n": len(files), "version": 1}
    x = cache_entry(SLUG, "images", key).load_or_compute("x.npy", lambda: decode_images(root, files, size), fmt="npy")
    return x, np.asarray(labels, np.int64)


# --------------------------------------------------------------------------------------
# All datasets -> float arrays (N, C, H, W) in [0, 1].

def _chw(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32) / 255.0
    return x[:, None] if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@functools.lru_cache(maxsize=2)
def load_dataset(dataset: str, image_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    if dataset == "fmnist":
        tr, te = load_fashion_mnist("train"), load_fashion_mnist("test")
    elif dataset == "mnist":
        tr, te = load_mnist("train", allow_subset=False), load_mnist("test", allow_subset=False)
    elif dataset == "cifar10_subset":
        tr, te = load_cifar10_subset("train"), load_cifar10_subset("test")
    elif dataset in FULL_DATASETS:
        (xtr, ytr), (xte, yte) = load_full(dataset, "train", image_size), load_full(dataset, "test", image_size)
        return _chw(xtr), ytr, _chw(xte), yte, FULL_DATASETS[dataset].name
    else:
        raise ConfigError(f"unknown dataset {dataset!r}")
    return _chw(tr.x), np.asarray(tr.y, np.int64), _chw(te.x), np.asarray(te.y, np.int64), tr.name


def stratified_fraction(y: np.ndarray, frac: float, val_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): per class, round(frac * n_c) images are kept and round(val_frac * kept) (at least 1)
    of them form the validation split. A class that would keep fewer than 2 images is a ConfigError."""
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(frac * len(idx)))
        if k < 2:
            raise ConfigError(f"train_frac {frac} keeps {k} image(s) of class {c} ({len(idx)} in the split); "
                              "every class needs at least 2 (one for training, one for validation)")
        n_val = min(max(1, int(round(val_frac * k))), k - 1)
        va.append(idx[:n_val])
        tr.append(idx[n_val:k])
    return rng.permutation(np.concatenate(tr)), rng.permutation(np.concatenate(va))


def make_split(dataset: str, train_frac: float, val_frac: float, seed: int, image_size: int = 128) -> Split:
    xtr, ytr, xte, yte, name = load_dataset(dataset, image_size)
    tr, va = stratified_fraction(ytr, train_frac, val_frac, seed)
    return Split(xtr[tr], ytr[tr], xtr[va], ytr[va], xte, yte, int(ytr.max()) + 1, name)


uses(SLUG, "fashion_mnist", "mnist", "cifar10_subset")
for _key, _d in FULL_DATASETS.items():
    register_dataset(_d.name, f"mgr full profile: {_key} (official layout)", _d.how, paper=SLUG,
                     locate=functools.partial(locate_root, _key, False), sources=[r.url for r in _d.resources])
