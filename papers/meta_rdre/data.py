"""Data of this paper: labelled pools for pairs of densities and anomaly tables for outlier detection.

Pair pools (relative DRE, dataset comparison): a real labelled dataset whose classes are split
into disjoint meta-training and meta-test classes (``common.fewshot.split_classes``); densities
are class mixtures (``common.meta.tasks.MixturePairTaskSource``).

- ``digits``: scikit-learn digits (1,797 8x8 images, pixels / 16): quick profile.
- ``fmnist_pca32``: Fashion-MNIST train set (60k), 32 principal components fitted on the
  meta-training classes only, scaled to unit average variance: quick profile.
- ``mnist`` / ``fmnist``: full MNIST / Fashion-MNIST (784 pixels / 255): full profile.
- ``omniglot_pca32``: the Omniglot minimal background sets small1 + small2, deduplicated by
  (alphabet, character) in ``common.data.load_omniglot`` (242 characters x 20 drawers; the Greek
  and Latin alphabets are in both zips), images 28x28 (ink = 1), embedded by a fixed encoder: 32
  principal components fitted on the meta-training characters only, scaled to unit average
  variance. Quick profile's many-class pool: with the default fractions 145 meta-training, 36
  validation and 61 meta-test characters (characters are disjoint across splits; alphabets are
  shared).

Every pool is split three ways: meta-training, validation (tuning only) and meta-test, disjoint in
classes (``split="classes"``) or in rows of every class (``split="rows"``).

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
from common.data.images import load_omniglot
from common.meta.episodes import TaskError, split_classes
from common.meta.tasks import LabelledPool, MixturePairTaskSource, OutlierTask

# Version of the pools' preprocessing, part of the meta-trained models' cache key.
DATA_VERSION = "v2-omniglot-blur1.5-pca32"
OMNIGLOT_BLUR = 1.5  # Gaussian smoothing (pixels, 28x28 images) before the PCA encoder
PAIR_DATASETS = ("digits", "fmnist_pca32", "omniglot_pca32", "mnist", "fmnist")
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


def pair_pools(name: str, split_seed: int = 0, test_frac: float = 0.4, split: str = "classes",
               val_frac: float = 0.0) -> tuple[LabelledPool, LabelledPool, LabelledPool | None]:
    """(meta-train, validation, meta-test) pools: disjoint classes (``split="classes"``: test
    densities are mixtures of unseen classes) or disjoint rows of every class (``split="rows"``:
    unseen instances and unseen mixture proportions). ``val_frac`` of the classes (rows) form the
    validation pool, used only to tune hyperparameters; None when ``val_frac == 0``."""
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
    elif name == "omniglot_pca32":
        from scipy.ndimage import gaussian_filter

        ds = load_omniglot("background_small", 28)
        # smoothed strokes: 5-way 5-shot nearest-centroid accuracy on unseen characters 0.80 vs 0.70 unsmoothed
        x = np.stack([gaussian_filter(im, OMNIGLOT_BLUR) for im in ds.x]).reshape(len(ds.x), -1)
    else:
        ds = load_mnist("train", allow_subset=False)
        x = ds.x.reshape(len(ds.x), -1).astype(np.float32) / 255.0
    pool = LabelledPool(x, ds.y, name)
    fracs = {"train": 1 - test_frac - val_frac, "val": val_frac, "test": test_frac}
    if fracs["train"] <= 0:
        raise ValueError(f"test_frac + val_frac must be < 1, got {test_frac} + {val_frac}")
    if split == "classes":
        splits = split_classes(ds.y, fracs, seed=split_seed)
        parts = {k: pool.subset_classes(v) if len(v) else None for k, v in splits.items()}
    else:
        rng = np.random.default_rng(split_seed)
        part = np.zeros(len(ds.y), np.int64)  # 0 train, 1 val, 2 test
        for c in np.unique(ds.y):
            idx = rng.permutation(np.flatnonzero(ds.y == c))
            n_te, n_va = int(round(test_frac * len(idx))), int(round(val_frac * len(idx)))
            part[idx[:n_te]], part[idx[n_te:n_te + n_va]] = 2, 1
        parts = {k: pool.subset_rows(np.flatnonzero(part == i), f"/{k}") if (part == i).any() else None
                 for i, k in enumerate(("train", "val", "test"))}
    train, val, test = parts["train"], parts.get("val"), parts["test"]
    if name.endswith("_pca32"):
        train, val, test = _pca(train, [val, test], 32)
    return train, val, test


def _pca(train: LabelledPool, others: list[LabelledPool | None], k: int):
    """A fixed encoder fitted on the meta-training pool only: its k principal components, scaled to unit
    average variance; applied unchanged to the other pools."""
    mean = train.x.mean(0)
    sub = train.x[np.random.default_rng(0).choice(len(train.x), min(10000, len(train.x)), replace=False)] - mean
    _, s, vt = np.linalg.svd(sub, full_matrices=False)
    proj = vt[:k].T / np.sqrt((s[:k] ** 2).sum() / len(sub) / k)
    enc = lambda p: None if p is None else LabelledPool((p.x - mean) @ proj, p.y, p.name)  # noqa: E731
    return (enc(train), *[enc(p) for p in others])


class OverlapMixturePairSource(MixturePairTaskSource):
    """Pairs of class mixtures whose class sets overlap by a random amount (many-class pools).

    p_A mixes ``n_active`` random classes with Dirichlet proportions; p_B shares k of them, k uniform
    in {0, ..., n_active}, and takes the other n_active - k from the remaining classes, with its own
    Dirichlet proportions. Over a pool of hundreds of classes, independent mixtures would almost never
    share a class (a trivially separable pair); here tasks range from disjoint classes to a pure change
    of proportions, so what the ratio looks like differs strongly between tasks. A ``same`` pair
    (dataset comparison) has p_B = p_A."""

    def _pair(self, rng: np.random.Generator, same: bool) -> tuple[np.ndarray, np.ndarray]:
        n, a = len(self.classes), self.n_active
        act_a = rng.choice(n, a, replace=False)
        pi_a = np.zeros(n)
        pi_a[act_a] = rng.dirichlet(np.full(a, self.concentration))
        if same:
            return pi_a, pi_a.copy()
        k = int(rng.integers(0, a + 1))
        rest = np.setdiff1d(np.arange(n), act_a)
        act_b = np.concatenate([rng.choice(act_a, k, replace=False), rng.choice(rest, a - k, replace=False)])
        pi_b = np.zeros(n)
        pi_b[act_b] = rng.dirichlet(np.full(a, self.concentration))
        return pi_a, pi_b

    def sample(self, rng: np.random.Generator, same: bool | None = None):
        from common.meta.tasks import DensityPairTask

        if same is None:
            same = bool(rng.random() < self.same_prob)
        sizes = [self.n_support_a, self.n_query, self.n_support_b, self.n_query]
        for _ in range(200):  # mixtures whose sets the classes cannot supply are redrawn
            pi_a, pi_b = self._pair(rng, same)
            sets = self._draw(rng, [pi_a, pi_a, pi_b, pi_b], sizes)
            if sets is not None:
                break
        else:
            raise TaskError(f"{self.pool.name}: could not draw disjoint sets of sizes {sizes} from class mixtures")
        sa, qa, sb, qb = sets
        return DensityPairTask(sa, sb, qa, qb, {"pi_a": pi_a, "pi_b": pi_b, "same": same, "classes": self.classes})


class ClassOutlierTaskSource:
    """Inlier-based outlier detection over a labelled pool of many classes (class-disjoint transfer).

    A task: the normal density is a mixture of ``n_active`` random classes of the pool (Dirichlet
    proportions); the clean reference set A holds ``n_reference`` of its rows; the unlabelled test set
    B holds ``n_test`` rows, ``round(contamination * n_test)`` (at least one) of them anomalies drawn
    uniformly from the rows of the pool's other classes. Built on the meta-test (or validation) pool,
    whose classes the meta-learners never saw."""

    def __init__(self, pool: LabelledPool, n_reference: int, n_test: int, contamination: float, n_active: int,
                 concentration: float = 1.0) -> None:
        self.pool = pool
        self.classes = np.unique(pool.y)
        if n_active >= len(self.classes):
            raise TaskError(f"{pool.name}: n_active={n_active} leaves no class for anomalies")
        self.n_reference, self.n_test, self.n_active, self.concentration = n_reference, n_test, n_active, concentration
        self.n_anom = min(n_test - 1, max(1, int(round(contamination * n_test))))
        self.by_class = {int(c): np.flatnonzero(pool.y == c) for c in self.classes}
        if n_reference + n_test - self.n_anom > sum(sorted(len(v) for v in self.by_class.values())[:n_active]):
            raise TaskError(f"{pool.name}: {n_active} classes cannot supply {n_reference + n_test - self.n_anom} "
                            "normal rows")

    def sample(self, rng: np.random.Generator) -> OutlierTask:
        n_norm = self.n_reference + self.n_test - self.n_anom
        for _ in range(200):
            act = rng.choice(self.classes, self.n_active, replace=False)
            counts = rng.multinomial(n_norm, rng.dirichlet(np.full(self.n_active, self.concentration)))
            if all(k <= len(self.by_class[int(c)]) for c, k in zip(act, counts)):
                break
        else:
            raise TaskError(f"{self.pool.name}: could not draw {n_norm} normal rows from {self.n_active} classes")
        norm = rng.permutation(np.concatenate([rng.choice(self.by_class[int(c)], k, replace=False)
                                               for c, k in zip(act, counts)]))
        anom = rng.choice(np.flatnonzero(~np.isin(self.pool.y, act)), self.n_anom, replace=False)
        ref = norm[:self.n_reference]
        test_idx = np.concatenate([norm[self.n_reference:], anom])
        labels = np.r_[np.zeros(len(norm) - self.n_reference, np.int64), np.ones(self.n_anom, np.int64)]
        order = rng.permutation(len(test_idx))
        return OutlierTask(self.pool.x[ref], self.pool.x[test_idx[order]], labels[order],
                           {"n_anomalies": self.n_anom, "normal_classes": act})

    def fixed_tasks(self, n: int, seed: int) -> list[OutlierTask]:
        rng = np.random.default_rng(seed)
        return [self.sample(rng) for _ in range(n)]


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


uses("meta_rdre", "digits", "fashion_mnist", "mnist", "omniglot_small")
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


def anomaly_pools(name: str, split_seed: int = 0, test_frac: float = 0.5,
                  val_frac: float = 0.0) -> tuple[LabelledPool, LabelledPool | None, LabelledPool]:
    """Stratified row split into (meta-train, validation, meta-test) pools, standardised with
    meta-train stats; constant columns dropped; validation None when ``val_frac == 0``."""
    x, y, _ = load_anomaly_table(name)
    rng = np.random.default_rng(split_seed)
    part = np.zeros(len(y), np.int64)  # 0 train, 1 val, 2 test
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_te, n_va = int(round(test_frac * len(idx))), int(round(val_frac * len(idx)))
        part[idx[:n_te]], part[idx[n_te:n_te + n_va]] = 2, 1
    tr = part == 0
    mu, sd = x[tr].mean(0), x[tr].std(0)
    keep = sd > 1e-12
    z = (x[:, keep] - mu[keep]) / sd[keep]
    pools = [LabelledPool(z[part == i], y[part == i], f"{name}/{k}") if (part == i).any() else None
             for i, k in enumerate(("meta-train", "val", "meta-test"))]
    return pools[0], pools[1], pools[2]
