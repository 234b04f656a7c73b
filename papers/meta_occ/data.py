"""Data of meta_occ: anomaly-detection tasks over Fashion-MNIST classes and over the ADBench tables.

The 10 classes are split (from the seed) into meta-training classes and ``n_test_classes`` held-out
classes. A task picks a normal class; its anomalies are instances of the other classes of the same
split; the support holds ``n_normal`` labelled normals and ``n_anomaly`` labelled anomalies, the
query ``n_query`` of each. Test tasks use only held-out classes, so the normal class and the
anomaly classes of a test task were never seen in meta-training.

Features: ``fmnist`` = pixels / 255 (784); ``fmnist_pca32`` = 32 principal components fitted on
the meta-training classes' rows only, scaled to unit average variance. Fashion-MNIST comes from
``common.data.load_fashion_mnist`` (verified download on first use; offline copy under $REPRO_DATA).

ADBench (``dataset="adbench"``): the 43 "Classical" tables (``.npz``, X and y with y = 1 anomaly)
under ``$REPRO_DATA/anomaly/adbench_classical``. Tasks are *within* tables (their feature spaces
differ): per seed each table is capped (at most ``ADBENCH_MAX_NORMAL`` normal and
``ADBENCH_MAX_ANOMALY`` anomalous rows, drawn at random), exact duplicate feature vectors are
removed (rows whose duplicates carry both labels are dropped), and its rows are split, per label,
into meta-training and meta-test halves. Preprocessing is fitted on the meta-training rows only:
standardisation, then PCA to ``ADBENCH_DIM`` components scaled to unit average variance when the
table has more columns, zero padding when it has fewer, so one encoder serves every table. A
meta-training task draws a table, then its support and query from that table's meta-training rows;
a test task, from the table's meta-test rows (normal "class" = the table index). Because duplicates
were removed first (and meta-test rows whose projected vector equals a meta-training row's are
dropped), meta-training and meta-test rows are disjoint as feature vectors, both raw and as the
models see them, not only as row indices; support and query rows of a task are disjoint.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.utils.extmath import randomized_svd

from common.data import DataFormatError, load_fashion_mnist, reading
from common.data.core import find_dir, uses
from common.meta.episodes import TaskError, split_classes


@dataclass(frozen=True)
class AnomalyTask:
    """One task: support (x, y) and query (x, y), y = 1 for anomalies."""
    xs: np.ndarray
    ys: np.ndarray
    xq: np.ndarray
    yq: np.ndarray
    normal_class: int


@dataclass(frozen=True)
class Pools:
    x: np.ndarray
    y: np.ndarray
    train_classes: np.ndarray
    test_classes: np.ndarray


def load_pools(dataset: str, n_test_classes: int, split_seed: int) -> Pools:
    ds = load_fashion_mnist("train")
    x = ds.x.reshape(len(ds.x), -1).astype(np.float32) / 255.0
    y = np.asarray(ds.y, dtype=np.int64)
    frac = n_test_classes / 10
    splits = split_classes(y, {"train": 1 - frac, "test": frac}, seed=split_seed)
    if dataset == "fmnist_pca32":
        x = _pca(x, np.isin(y, splits["train"]), 32, split_seed)
    elif dataset != "fmnist":
        raise TaskError(f"unknown dataset {dataset!r}")
    return Pools(x.astype(np.float32), y, splits["train"], splits["test"])


def _pca(x: np.ndarray, fit_rows: np.ndarray, k: int, seed: int) -> np.ndarray:
    rows = np.flatnonzero(fit_rows)
    sub = x[np.random.default_rng(seed).choice(rows, min(10000, len(rows)), replace=False)]
    mean = sub.mean(0)
    _, s, vt = np.linalg.svd(sub - mean, full_matrices=False)
    proj = vt[:k].T / np.sqrt((s[:k] ** 2).sum() / len(sub) / k)
    return (x - mean) @ proj


def sample_task(pools: Pools, classes: np.ndarray, normal_class: int, n_normal: int, n_anomaly: int,
                n_query: int, rng: np.random.Generator) -> AnomalyTask:
    """Normal class ``normal_class``; anomalies drawn uniformly from the rows of the other ``classes``."""
    normal_rows = np.flatnonzero(pools.y == normal_class)
    anomaly_rows = np.flatnonzero(np.isin(pools.y, classes) & (pools.y != normal_class))
    if len(normal_rows) < n_normal + n_query or len(anomaly_rows) < n_anomaly + n_query:
        raise TaskError(f"class {normal_class}: {len(normal_rows)} normals / {len(anomaly_rows)} anomalies, "
                        f"a task needs {n_normal + n_query} / {n_anomaly + n_query}")
    nr = rng.choice(normal_rows, n_normal + n_query, replace=False)
    ar = rng.choice(anomaly_rows, n_anomaly + n_query, replace=False)
    xs = np.concatenate([pools.x[nr[:n_normal]], pools.x[ar[:n_anomaly]]])
    ys = np.concatenate([np.zeros(n_normal), np.ones(n_anomaly)]).astype(np.int64)
    xq = np.concatenate([pools.x[nr[n_normal:]], pools.x[ar[n_anomaly:]]])
    yq = np.concatenate([np.zeros(n_query), np.ones(n_query)]).astype(np.int64)
    return AnomalyTask(xs, ys, xq, yq, int(normal_class))


def make_test_tasks(pools: Pools, n_tasks: int, n_normal: int, n_anomaly: int, n_query: int, seed: int) -> list[AnomalyTask]:
    """The fixed test tasks of a seed (the same for every method): normal class cycles over the held-out classes."""
    rng = np.random.default_rng(seed)
    cls = pools.test_classes
    return [sample_task(pools, cls, int(cls[i % len(cls)]), n_normal, n_anomaly, n_query, rng) for i in range(n_tasks)]


def train_task_sampler(pools: Pools, n_normal: int, n_anomaly: int, n_query: int, seed: int):
    """An endless stream of meta-training tasks over the meta-training classes."""
    rng = np.random.default_rng(seed)
    cls = pools.train_classes

    def draw() -> AnomalyTask:
        return sample_task(pools, cls, int(rng.choice(cls)), n_normal, n_anomaly, n_query, rng)
    return draw


ADBENCH_SUBDIRS = ("anomaly/adbench_classical", "adbench_classical")
ADBENCH_HOW = ("the ADBench 'Classical' .npz tables (github.com/Minqi824/ADBench, adbench/datasets/Classical) "
               "in $REPRO_DATA/anomaly/adbench_classical/")
ADBENCH_DIM = 16
"""Common feature dimension of the ADBench tasks (PCA or zero padding per table; ours)."""
ADBENCH_MAX_NORMAL, ADBENCH_MAX_ANOMALY = 4000, 1000
"""Per-seed caps on the rows kept per table (the largest tables have 600k rows; ours)."""


@dataclass(frozen=True)
class TablePools:
    """Per table: meta-training rows (x, y) and meta-test rows, in the common ADBENCH_DIM space."""
    names: list[str]
    train: list[tuple[np.ndarray, np.ndarray]]
    test: list[tuple[np.ndarray, np.ndarray]]
    test_tables: np.ndarray
    """Indices of the tables with enough meta-test rows for a test task."""
    train_tables: np.ndarray
    """Indices of the tables with enough meta-training rows for a meta-training task."""

    @property
    def dim(self) -> int:
        return ADBENCH_DIM


@functools.lru_cache(maxsize=1)
def _adbench_raw() -> tuple[tuple[str, np.ndarray, np.ndarray], ...]:
    folder = find_dir("adbench_classical", ADBENCH_SUBDIRS, "38_thyroid.npz", ADBENCH_HOW)
    files = sorted(folder.glob("*.npz"), key=lambda p: int(p.name.split("_")[0]))
    out = []
    for path in files:
        out.append((path.stem.split("_", 1)[1], *_read_npz(path)))
    return tuple(out)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with reading(path, "ADBench table"):
        with np.load(path, allow_pickle=False) as d:
            x, y = np.asarray(d["X"], dtype=np.float64), np.asarray(d["y"]).astype(np.int64).ravel()
    if x.ndim != 2 or len(x) != len(y) or not set(np.unique(y)) <= {0, 1} or not np.isfinite(x).all():
        raise DataFormatError(f"{path}: expected finite X (n, d) and y in {{0, 1}} of length n")
    return x, y


def dedupe(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row indices keeping one row per distinct feature vector; vectors seen with both labels are dropped."""
    _, first, inv = np.unique(x, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    lab_min = np.full(len(first), 2)
    lab_max = np.full(len(first), -1)
    np.minimum.at(lab_min, inv, y)
    np.maximum.at(lab_max, inv, y)
    return np.sort(first[lab_min == lab_max])


def _prepare_table(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    keep = []
    for label, cap in ((0, ADBENCH_MAX_NORMAL), (1, ADBENCH_MAX_ANOMALY)):
        rows = np.flatnonzero(y == label)
        keep.append(rng.choice(rows, cap, replace=False) if len(rows) > cap else rows)
    rows = np.sort(np.concatenate(keep))
    x, y = x[rows], y[rows]
    rows = dedupe(x, y)
    x, y = x[rows], y[rows]
    is_train = np.zeros(len(y), bool)
    for label in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == label))
        is_train[idx[: len(idx) // 2]] = True
    xtr = x[is_train]
    mean, sd = xtr.mean(0), xtr.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    z = (x - mean) / sd
    if z.shape[1] > ADBENCH_DIM:                 # leading principal directions (randomized SVD, seeded)
        _, s, vt = randomized_svd(z[is_train], ADBENCH_DIM, n_iter=7, random_state=int(rng.integers(2**31)))
        z = z @ (vt.T / np.sqrt((s ** 2).sum() / is_train.sum() / ADBENCH_DIM))
    else:
        z = np.pad(z, ((0, 0), (0, ADBENCH_DIM - z.shape[1])))
    z = z.astype(np.float32)
    ztr, zte, yte = z[is_train], z[~is_train], y[~is_train]
    seen = {r.tobytes() for r in ztr}             # rows distinct in the raw space may coincide after the
    fresh = np.array([r.tobytes() not in seen for r in zte], dtype=bool)   # float32 projection: drop those
    return (ztr, y[is_train]), (zte[fresh], yte[fresh])


@functools.lru_cache(maxsize=8)
def load_table_pools(split_seed: int, n_normal: int, n_anomaly: int) -> TablePools:
    """Every ADBench table, capped, de-duplicated, split and projected (module docstring); cached per
    process (the cells of a sweep share it; it is a deterministic function of its arguments)."""
    rng = np.random.default_rng(split_seed)
    names, train, test = [], [], []
    for name, x, y in _adbench_raw():
        tr, te = _prepare_table(x, y, rng)
        names.append(name)
        train.append(tr)
        test.append(te)

    def ok(pools):
        return np.array([i for i, (_, y) in enumerate(pools)
                         if (y == 0).sum() > n_normal and (y == 1).sum() > n_anomaly], dtype=np.int64)
    return TablePools(names, train, test, ok(test), ok(train))


def sample_table_task(x: np.ndarray, y: np.ndarray, table: int, n_normal: int, n_anomaly: int, n_query: int,
                      rng: np.random.Generator, fixed_query: bool) -> AnomalyTask:
    """Support (n_normal + n_anomaly rows) and disjoint query rows of one table's row pool. The query has
    n_query normals and n_query anomalies, or as many as the pool has left (test tasks); with
    ``fixed_query`` (meta-training: batches need one layout) missing query rows are drawn with
    replacement from the rows left after the support."""
    normal, anom = rng.permutation(np.flatnonzero(y == 0)), rng.permutation(np.flatnonzero(y == 1))
    if len(normal) <= n_normal or len(anom) <= n_anomaly:
        raise TaskError(f"table {table}: {len(normal)} normals / {len(anom)} anomalies, a task needs more than "
                        f"{n_normal} / {n_anomaly}")
    qn, qa = normal[n_normal:], anom[n_anomaly:]
    if fixed_query:
        qn = qn[:n_query] if len(qn) >= n_query else rng.choice(qn, n_query, replace=True)
        qa = qa[:n_query] if len(qa) >= n_query else rng.choice(qa, n_query, replace=True)
    else:
        qn, qa = qn[:n_query], qa[:n_query]
    xs = np.concatenate([x[normal[:n_normal]], x[anom[:n_anomaly]]])
    ys = np.r_[np.zeros(n_normal), np.ones(n_anomaly)].astype(np.int64)
    xq = np.concatenate([x[qn], x[qa]])
    yq = np.r_[np.zeros(len(qn)), np.ones(len(qa))].astype(np.int64)
    return AnomalyTask(xs, ys, xq, yq, int(table))


def make_table_test_tasks(pools: TablePools, n_tasks: int, n_normal: int, n_anomaly: int, n_query: int,
                          seed: int) -> list[AnomalyTask]:
    """Fixed test tasks of a seed: the table cycles over the eligible tables, rows from their meta-test halves."""
    rng = np.random.default_rng(seed)
    tabs = pools.test_tables
    return [sample_table_task(*pools.test[tabs[i % len(tabs)]], int(tabs[i % len(tabs)]), n_normal, n_anomaly,
                              n_query, rng, fixed_query=False) for i in range(n_tasks)]


def table_task_sampler(pools: TablePools, n_normal: int, n_anomaly: int, n_query: int, seed: int):
    """Endless meta-training tasks: a table uniformly at random, rows from its meta-training half."""
    rng = np.random.default_rng(seed)

    def draw() -> AnomalyTask:
        i = int(rng.choice(pools.train_tables))
        return sample_table_task(*pools.train[i], i, n_normal, n_anomaly, n_query, rng, fixed_query=True)
    return draw


uses("meta_occ", "fashion_mnist")
