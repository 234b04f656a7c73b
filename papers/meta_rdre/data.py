"""Data of this paper: labelled pools for pairs of densities and anomaly tables for outlier detection.

Pair pools (relative DRE, dataset comparison): a real labelled dataset whose classes are split
into disjoint meta-training and meta-test classes (``common.fewshot.split_classes``); densities
are class mixtures (``common.meta.tasks.MixturePairTaskSource``).

- ``digits``: scikit-learn digits (1,797 8x8 images, pixels / 16): quick profile.
- ``fmnist_pca32``: Fashion-MNIST train set (60k), 32 principal components fitted on the
  meta-training classes only, scaled to unit average variance: quick profile.
- ``mnist`` / ``fmnist``: full MNIST / Fashion-MNIST (784 pixels / 255): full profile.

Anomaly tables (outlier detection): ADBench "Classical" ``.npz`` (keys X, y; y = 1 anomaly) and
ODDS ``.mat`` (X, y) files, searched in ``$REPRO_DATA/anomaly/{adbench_classical,odds_mat}`` and
``data/anomaly/...``. Rows are split (stratified) into meta-training and meta-test rows, and
features are standardised with the meta-training rows' statistics.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from common.data import DataFormatError, Resource, find_or_fetch, load_digits, load_fashion_mnist, load_mnist, reading
from common.data.core import candidate_dirs, missing, register_dataset, uses
from common.meta.episodes import split_classes
from common.meta.tasks import LabelledPool

PAIR_DATASETS = ("digits", "fmnist_pca32", "mnist", "fmnist")
ANOMALY_HOW = ("ADBench Classical .npz files from github.com/Minqi824/ADBench (adbench/datasets/Classical) "
               "or ODDS .mat files from odds.cs.stonybrook.edu, in $REPRO_DATA/anomaly/adbench_classical/ "
               "or $REPRO_DATA/anomaly/odds_mat/; the tables the paper uses are downloaded automatically on "
               "first use (verified by git blob id, into data/anomaly/) unless REPRO_OFFLINE=1")
ADBENCH_SUBDIRS = ("anomaly/adbench_classical", "adbench_classical", "anomaly")
ODDS_SUBDIRS = ("anomaly/odds_mat", "odds_mat", "anomaly")

# The tables of the paper's tables (t3_outlier), downloadable on first use from the repositories at
# pinned commits, verified by git blob id (the repositories publish no other checksum).
ADBENCH_COMMIT = "3dac8221081e190f157d78e93bfa8867f90d0965"
ADBENCH_URL = "https://raw.githubusercontent.com/Minqi824/ADBench/{commit}/adbench/datasets/Classical/{name}"
PYOD_COMMIT = "34f7996effac700a5166d882d5e94c6e6078fae3"
PYOD_URL = "https://raw.githubusercontent.com/yzhao062/pyod/{commit}/notebooks/data/{name}"
ANOMALY_FILES = {  # name -> (file, git blob id)
    "cardio": ("6_cardio.npz", "30f9e14ea169b1a97146e1d86863280b1191de36"),
    "thyroid": ("38_thyroid.npz", "bbd5bae673019978903eb044402e5bbc64a0194d"),
    "shuttle": ("32_shuttle.npz", "d36c90e857b321b9da659ba35620ea8d73e371a9"),
    "pendigits": ("28_pendigits.npz", "df9446304fd3bcc39244b2ea4ebc69804626432f"),
    "satellite": ("30_satellite.npz", "cdb252e0dcfefc7354e4dae8a279ae431c1786cb"),
    "annthyroid": ("2_annthyroid.npz", "56a1893bd25852ce6ae6f7a69f71eac4ad0b7cc4"),
    "mammography": ("23_mammography.npz", "d2d4ab6275617e8583613607b5099b8d1c4f1e53"),
    "odds_wbc": ("wbc.mat", "9df22bc992e93fbc24f73cb805a4fd329665bde7"),
    "odds_arrhythmia": ("arrhythmia.mat", "4d9016e98ca0a36e366125102a0102718cc772cf"),
}
ANOMALY_DATASETS = tuple(ANOMALY_FILES)


def anomaly_resource(name: str) -> Resource:
    fname, blob = ANOMALY_FILES[name]
    if name.startswith("odds_"):
        return Resource(fname, PYOD_URL.format(commit=PYOD_COMMIT, name=fname), f"gitblob:{blob}")
    return Resource(fname, ADBENCH_URL.format(commit=ADBENCH_COMMIT, name=fname), f"gitblob:{blob}")


def pair_pools(name: str, split_seed: int = 0, test_frac: float = 0.4,
               split: str = "classes") -> tuple[LabelledPool, LabelledPool]:
    """(meta-train pool, meta-test pool): disjoint classes (``split="classes"``: test densities are
    mixtures of unseen classes) or disjoint rows of every class (``split="rows"``: unseen instances
    and unseen mixture proportions)."""
    if split not in ("classes", "rows"):
        raise ValueError(f"split must be 'classes' or 'rows', got {split!r}")
    if name not in PAIR_DATASETS:
        raise ValueError(f"unknown pair dataset {name!r}; valid: {', '.join(PAIR_DATASETS)}")
    if name == "digits":
        ds = load_digits()
        x = ds.x.reshape(len(ds.x), -1) / 16.0
    elif name in ("fmnist", "fmnist_pca32"):
        ds = load_fashion_mnist("train")
        x = ds.x.reshape(len(ds.x), -1).astype(np.float32) / 255.0
    else:
        ds = load_mnist("train", allow_subset=False)
        x = ds.x.reshape(len(ds.x), -1).astype(np.float32) / 255.0
    pool = LabelledPool(x, ds.y, name)
    if split == "classes":
        splits = split_classes(ds.y, {"train": 1 - test_frac, "test": test_frac}, seed=split_seed)
        train, test = pool.subset_classes(splits["train"]), pool.subset_classes(splits["test"])
    else:
        rng = np.random.default_rng(split_seed)
        is_test = np.zeros(len(ds.y), bool)
        for c in np.unique(ds.y):
            idx = rng.permutation(np.flatnonzero(ds.y == c))
            is_test[idx[:int(round(test_frac * len(idx)))]] = True
        train = pool.subset_rows(np.flatnonzero(~is_test), "/meta-train")
        test = pool.subset_rows(np.flatnonzero(is_test), "/meta-test")
    if name == "fmnist_pca32":
        train, test = _pca(train, test, 32)
    return train, test


def _pca(train: LabelledPool, test: LabelledPool, k: int) -> tuple[LabelledPool, LabelledPool]:
    mean = train.x.mean(0)
    sub = train.x[np.random.default_rng(0).choice(len(train.x), min(10000, len(train.x)), replace=False)] - mean
    _, s, vt = np.linalg.svd(sub, full_matrices=False)
    proj = vt[:k].T / np.sqrt((s[:k] ** 2).sum() / len(sub) / k)
    return (LabelledPool((train.x - mean) @ proj, train.y, train.name),
            LabelledPool((test.x - mean) @ proj, test.y, test.name))


@functools.lru_cache(maxsize=16)
def load_anomaly_table(name: str, download: bool | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(X float64, y int64 with 1 = anomaly, source path) of an ADBench npz (by its name after the
    number, e.g. ``cardio`` for ``6_cardio.npz``) or an ODDS mat (``odds_<name>``). The tables of
    ``ANOMALY_FILES`` are downloaded (verified) into ``data/anomaly/`` when not found."""
    path = _find_anomaly_table(name)
    if path is None:
        subdirs = ODDS_SUBDIRS if name.startswith("odds_") else ADBENCH_SUBDIRS
        fname = name[len("odds_"):] + ".mat" if name.startswith("odds_") else f"<n>_{name}.npz"
        if name not in ANOMALY_FILES:
            raise missing(name, candidate_dirs(subdirs), [fname], ANOMALY_HOW)
        _, (path,) = find_or_fetch(name, subdirs, [anomaly_resource(name)], ANOMALY_HOW, download=download)
    reader = read_odds_mat if path.suffix == ".mat" else read_adbench_npz
    return (*reader(path), str(path))


def _find_anomaly_table(name: str) -> Path | None:
    if name.startswith("odds_"):
        fname = name[len("odds_"):] + ".mat"
        hits = [d / fname for d in candidate_dirs(ODDS_SUBDIRS) if (d / fname).is_file()]
        return hits[0] if hits else None
    for d in candidate_dirs(ADBENCH_SUBDIRS):
        if d.is_dir():
            hits = sorted(p for p in d.glob("*.npz") if p.stem.split("_", 1)[-1].lower() == name.lower())
            if hits:
                return hits[0]
    return None


def _locate_anomaly(name: str) -> str:
    path = _find_anomaly_table(name)
    if path is None:
        raise missing(name, candidate_dirs(ODDS_SUBDIRS if name.startswith("odds_") else ADBENCH_SUBDIRS),
                      [ANOMALY_FILES[name][0]], ANOMALY_HOW)
    return str(path)


uses("meta_rdre", "digits", "fashion_mnist", "mnist")
for _name in ANOMALY_DATASETS:
    register_dataset(f"anomaly_{_name}", f"anomaly table {ANOMALY_FILES[_name][0]} "
                     f"({'ODDS via pyod' if _name.startswith('odds_') else 'ADBench Classical'})", ANOMALY_HOW,
                     paper="meta_rdre", locate=lambda n=_name: _locate_anomaly(n), sources=[anomaly_resource(_name).url])


def _check_xy(x, y, path: Path) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y).ravel().astype(np.int64)
    if x.ndim != 2 or len(x) != len(y) or not set(np.unique(y).tolist()) <= {0, 1}:
        raise DataFormatError(f"{path}: expected X (n, d) and y (n,) in {{0, 1}}; got X {x.shape}, "
                              f"y {y.shape} with values {np.unique(y)[:5].tolist()}")
    return x, y


def read_adbench_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with reading(path, "ADBench npz"), np.load(path, allow_pickle=False) as d:
        if "X" not in d or "y" not in d:
            raise DataFormatError(f"{path}: ADBench npz needs keys X and y, has {sorted(d.keys())}")
        return _check_xy(d["X"], d["y"], path)


def read_odds_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io as sio

    with reading(path, "ODDS mat"):
        m = sio.loadmat(path)
    if "X" not in m or "y" not in m:
        raise DataFormatError(f"{path}: ODDS mat needs variables X and y, has {sorted(k for k in m if not k.startswith('__'))}")
    return _check_xy(m["X"], m["y"], path)


def anomaly_pools(name: str, split_seed: int = 0, test_frac: float = 0.5) -> tuple[LabelledPool, LabelledPool]:
    """Stratified row split into (meta-train, meta-test) pools, standardised with meta-train stats;
    constant columns dropped."""
    x, y, _ = load_anomaly_table(name)
    rng = np.random.default_rng(split_seed)
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:int(round(test_frac * (y == c).sum()))]
                               for c in (0, 1)])
    is_test = np.zeros(len(y), bool)
    is_test[test_idx] = True
    mu, sd = x[~is_test].mean(0), x[~is_test].std(0)
    keep = sd > 1e-12
    z = (x[:, keep] - mu[keep]) / sd[keep]
    return (LabelledPool(z[~is_test], y[~is_test], f"{name}/meta-train"),
            LabelledPool(z[is_test], y[is_test], f"{name}/meta-test"))
