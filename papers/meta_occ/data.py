"""Data of meta_occ: one-class-vs-rest anomaly-detection tasks over Fashion-MNIST classes.

The 10 classes are split (from the seed) into meta-training classes and ``n_test_classes`` held-out
classes. A task picks a normal class; its anomalies are instances of the other classes of the same
split; the support holds ``n_normal`` labelled normals and ``n_anomaly`` labelled anomalies, the
query ``n_query`` of each. Test tasks use only held-out classes, so the normal class and the
anomaly classes of a test task were never seen in meta-training.

Features: ``fmnist`` = pixels / 255 (784); ``fmnist_pca32`` = 32 principal components fitted on
the meta-training classes' rows only, scaled to unit average variance. Fashion-MNIST comes from
``common.data.load_fashion_mnist`` (verified download on first use; offline copy under $REPRO_DATA).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.data import load_fashion_mnist
from common.data.core import uses
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


uses("meta_occ", "fashion_mnist")
